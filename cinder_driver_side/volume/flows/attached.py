"""Attached migration: Nova's volume-migration start / copy / complete.

DESIGN 7, protocol in doc/source/contributor/design-notes/cinder.rst:
dst and a dst attachment B with src attachment A's connector; Nova
start(A); copy; Nova complete(A, B); then B attached, A and src deleted,
dst under src's id. A copy failure cancels on Nova and deletes B and
dst: src is never touched. What Nova's record status means here is
``compute.migration_status``'s one mapping.
"""

from __future__ import annotations

import json
import time

from oslo_log import log as logging
from oslo_utils import timeutils
import tenacity

from cinder_driver_side.compute import migration_status
from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.objects import fields
from cinder_driver_side.volume.flows import base

LOG = logging.getLogger(__name__)

MIG = fields.VolumeMigrationStatus
NOVA = migration_status.NovaMigrationStatus
Outcome = migration_status.CompleteOutcome

#: Seconds a cancel waits for Nova's record to become terminal.
CANCEL_WAIT = 300.0
#: Calls of Nova's complete while its record says nothing was switched.
COMPLETE_ATTEMPTS = 3


class Unresolved(Exception):
    """Nova's outcome of complete could not be learnt (yet)."""


class AttachedFlow(base.MigrationFlow):
    """Nova start / copy / complete; cancel on any failure before it."""

    kind = fields.MigrationKind.ATTACHED

    def run(self) -> None:
        record = self.record
        try:
            new_volume = self._create_dst()
            dst_attachment = self._create_dst_attachment(new_volume)
        except Exception as e:
            self._delete_dst_quietly()
            self._fail('creating the destination failed: %s' % e)
            return
        called = timeutils.utcnow()
        try:
            self.nova.start_volume_migration(record.src_attachment_id)
            returned = timeutils.utcnow()
        except Exception as e:
            if self._start_ambiguous(e):
                # The start may have happened on Nova (a 409 may only
                # mean Nova's compute host did not answer in time):
                # undo it before dst goes, or the guest keeps writing
                # into an overlay nobody completes or cancels.
                self._undo_start_on_nova()
            self._delete_dst_quietly()
            self._fail('Nova refused to start the migration: %s' % e)
            return
        self._record_times(nova_start_called=called,
                           nova_start_returned=returned)
        try:
            self._set_status(MIG.MIGRATING)
            self._copy(new_volume)
        except Exception as e:
            self._cancel_on_nova()
            self._delete_dst_quietly()
            self._fail(str(e))
            return
        if not self._enter_completing():
            # Cancelled as the copy ended: as a failed copy.
            self._cancel_on_nova()
            self._delete_dst_quietly()
            self._fail(self._abort_reason)
            return
        self._complete(new_volume, dst_attachment.id)

    def _create_dst_attachment(self, new_volume: models.Volume
                               ) -> models.VolumeAttachment:
        """Attachment B of dst, exported with A's connector."""
        src_attachment = self.db.attachment_get(
            self.ctx, self.record.src_attachment_id)
        attachment = self.db.attachment_create(self.ctx, {
            'volume_id': new_volume.id,
            'project_id': new_volume.project_id,
            'instance_uuid': src_attachment.instance_uuid,
            'attach_status': fields.VolumeAttachStatus.RESERVED,
            'attach_mode': src_attachment.attach_mode})
        self.db.migration_update(self.ctx, self.migration_id,
                                 {'dst_attachment_id': attachment.id})
        connector = json.loads(src_attachment.connector or '{}')
        return self.deps.connect_attachment(self.ctx, new_volume,
                                            attachment, connector)

    def _complete(self, new_volume: models.Volume,
                  dst_attachment_id: str) -> None:
        """Nova complete; after a failure, ask Nova what happened.

        A record back at ``running`` means nothing was switched (e.g. a
        broker dropped the request): complete is tried again a few times
        before the migration is cancelled.
        """
        for attempt in range(1, COMPLETE_ATTEMPTS + 1):
            called = timeutils.utcnow()
            try:
                self.nova.complete_volume_migration(
                    self.record.src_attachment_id, dst_attachment_id)
            except Exception as e:
                LOG.warning('Migration %s: complete failed (%s); asking '
                            'Nova what happened', self.migration_id, e)
                error = e
            else:
                self._record_times(nova_complete_called=called,
                                   nova_complete_returned=timeutils.utcnow())
                break
            try:
                outcome = self._resolve_complete()
            except Unresolved as unresolved:
                LOG.error('Migration %s stays completing: %s; the next '
                          'service start resolves it', self.migration_id,
                          unresolved)
                return
            if outcome is Outcome.SWITCHED:
                break
            if outcome is Outcome.RUNNING and attempt < COMPLETE_ATTEMPTS:
                LOG.info('Migration %s: Nova switched nothing; complete '
                         'again (attempt %d)', self.migration_id,
                         attempt + 1)
                continue
            if outcome is Outcome.RUNNING:
                self._cancel_on_nova()
            if outcome in (Outcome.RUNNING, Outcome.NOT_SWITCHED):
                self._delete_dst_quietly()
                self._fail('Nova did not complete the migration: %s'
                           % error)
                return
            self._fail('Nova failed the migration during complete: '
                       '%s; dst volume %s and attachment %s are kept '
                       'for inspection' % (error, new_volume.id,
                                           dst_attachment_id))
            return
        self._finish(new_volume, dst_attachment_id)

    def _finish(self, new_volume: models.Volume,
                dst_attachment_id: str) -> None:
        """B becomes the volume's attachment, A and src's data go."""
        self.db.attachment_update(self.ctx, dst_attachment_id, {
            'attach_status': fields.VolumeAttachStatus.ATTACHED,
            'attach_time': timeutils.utcnow()})
        self._switch(new_volume, new_volume.id,
                     move_attachments=[dst_attachment_id],
                     delete_attachments=[self.record.src_attachment_id])

    def _resolve_complete(self) -> migration_status.CompleteOutcome:
        """After a failed or unknown complete, read Nova's record.

        ``completing`` alone is no answer: Nova may still be switching,
        or about to put the record back to ``running`` because the switch
        failed, so it is waited out (``nova_complete_timeout``) before src
        is touched. Raises Unresolved when Nova cannot be asked or stays
        ``completing``: nothing is deleted then.
        """
        timeout = self.conf.nova_complete_timeout

        @tenacity.retry(
            retry=(tenacity.retry_if_exception_type(
                exception.NovaConnectionFailed)
                | tenacity.retry_if_result(
                    lambda record: migration_status.complete_outcome(
                        record.get('status')) is Outcome.PENDING)),
            stop=tenacity.stop_after_delay(timeout),
            wait=tenacity.wait_exponential(multiplier=0.5, max=10),
            retry_error_callback=lambda state: state.outcome.result())
        def read():
            return self.nova.get_volume_migration(
                self.record.src_attachment_id)

        try:
            status = read().get('status')
        except exception.CinderException as e:
            raise Unresolved(str(e))
        LOG.info('Migration %s: Nova says %s', self.migration_id, status)
        outcome = migration_status.complete_outcome(status)
        if outcome is Outcome.PENDING:
            raise Unresolved('Nova still says %s after %ss'
                             % (status, timeout))
        return outcome

    @staticmethod
    def _start_ambiguous(error: Exception) -> bool:
        """Whether a failed start may still have started on Nova.

        400/403/404 are refusals; a timeout, a 5xx or a 409 are not
        (Nova answers 409 when its compute host did not confirm).
        """
        if not isinstance(error, exception.NovaAPIError):
            return True
        return error.status is None or error.status in (409,) or (
            error.status >= 500)

    def _undo_start_on_nova(self) -> None:
        """After an ambiguous start: read Nova's record, cancel if active.

        ``starting`` is waited out (Nova ends it within its start
        timeout: ``running`` or ``error``); ``running`` is cancelled and
        the cancel waited for. No record (404) or a terminal one: Nova
        has nothing to undo.
        """
        att = self.record.src_attachment_id

        @tenacity.retry(
            retry=(tenacity.retry_if_exception_type(
                exception.NovaConnectionFailed)
                | tenacity.retry_if_result(
                    lambda status: status == NOVA.STARTING)),
            stop=tenacity.stop_after_delay(CANCEL_WAIT),
            wait=tenacity.wait_exponential(multiplier=0.2, max=5),
            retry_error_callback=lambda state: state.outcome.result())
        def read() -> str | None:
            try:
                return self.nova.get_volume_migration(att).get('status')
            except exception.NovaAPIError as e:
                if e.status == 404:
                    return None
                raise

        try:
            status = read()
        except exception.CinderException as e:
            LOG.error('Migration %s: cannot read Nova\'s record after a '
                      'failed start (%s); cancelling anyway',
                      self.migration_id, e)
            status = NOVA.RUNNING
        LOG.info('Migration %s: after the failed start Nova says %s',
                 self.migration_id, status)
        if status is None or migration_status.is_terminal(status):
            return
        self._cancel_on_nova()

    def _cancel_on_nova(self) -> None:
        """Cancel Nova's migration if it is active; wait until terminal.

        Waiting lets the volume be migrated again at once. A flow that
        was aborted (the service is stopping) does not wait: Nova ends
        its cancel by itself.
        """
        att = self.record.src_attachment_id
        try:
            self.nova.cancel_volume_migration(att)
        except exception.NovaAPIError as e:
            LOG.info('Migration %s: Nova cancel answered %s: %s',
                     self.migration_id, e.status, e)
        except exception.NovaConnectionFailed as e:
            LOG.error('Migration %s: cannot reach Nova to cancel: %s',
                      self.migration_id, e)
            return
        deadline = time.monotonic() + CANCEL_WAIT
        while time.monotonic() < deadline:
            try:
                status = self.nova.get_volume_migration(att).get('status')
            except exception.NovaAPIError as e:
                if e.status == 404:
                    return
                status = None
            except exception.NovaConnectionFailed:
                status = None
            if migration_status.is_terminal(status):
                return
            if self._cancel_requested:
                # An administrator's cancel: the guest is back on src
                # once Nova's record is terminal; wait for it.
                time.sleep(0.2)
            elif self._abort.wait(0.2):
                LOG.info('Migration %s: not waiting for Nova\'s cancel to '
                         'end (%s)', self.migration_id, self._abort_reason)
                return
        LOG.warning('Migration %s: Nova\'s migration is not terminal '
                    'after %d s', self.migration_id, CANCEL_WAIT)

    def _recover_unswitched(self, record: models.Migration) -> None:
        if record.status != MIG.COMPLETING:
            # Nova's complete was never called: src is the volume's data.
            self._cancel_on_nova()
            self._delete_dst_quietly()
            self._fail(base.RESTART_REASON)
            return
        new_volume = self._new_volume()
        try:
            outcome = self._resolve_complete()
        except Unresolved as e:
            LOG.error('Migration %s stays completing: %s', record.id, e)
            return
        if outcome is Outcome.SWITCHED and new_volume is not None:
            self._finish(new_volume, record.dst_attachment_id)
        elif outcome in (Outcome.RUNNING, Outcome.NOT_SWITCHED):
            if outcome is Outcome.RUNNING:
                self._cancel_on_nova()
            self._delete_dst_quietly()
            self._fail(base.RESTART_REASON)
        else:
            self._fail('Nova failed the migration during complete; '
                       'dst volume %s kept for inspection'
                       % record.new_volume_id)
