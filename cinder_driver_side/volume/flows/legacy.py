"""Legacy migration of an attached volume: Nova's swap.

dst is created and Nova swaps the guest to it (``PUT
/servers/{id}/os-volume_attachments/{volume_id}``); Nova mirrors the data
and calls back ``os-migrate_volume_completion``, which switches the ids.
Meanwhile Nova's ``swap_progress`` is mirrored into the volume.
"""

from __future__ import annotations

from oslo_log import log as logging
from oslo_utils import timeutils

from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.objects import fields
from cinder_driver_side.volume.flows import base
from cinder_driver_side.volume import progress as progress_mod

LOG = logging.getLogger(__name__)

MIG = fields.VolumeMigrationStatus


class LegacyFlow(base.MigrationFlow):
    """Nova swap + os-migrate_volume_completion (upstream's path)."""

    kind = fields.MigrationKind.LEGACY

    @staticmethod
    def copy_engine(force_host_copy: bool, same_array: bool) -> None:
        return None     # Nova mirrors the data itself.

    #: Nova's swap was requested: it has no cancel (Nova's API cannot
    #: abort a swap's block job), so neither has this migration.
    _swap_requested = False

    def _too_late_to_cancel(self, status: str) -> str | None:
        if self._swap_requested:
            return ('Nova\'s swap is under way and Nova has no API to '
                    'abort it; it ends with os-migrate_volume_completion')
        return super()._too_late_to_cancel(status)

    def run(self) -> None:
        record = self.record
        try:
            new_volume = self._create_dst()
            self._set_status(MIG.MIGRATING)
            with self._lock:
                if self._cancel_requested:
                    raise exception.CopyAborted(
                        src=self.volume_id, dst=new_volume.id,
                        reason=self._abort_reason)
                self._swap_requested = True
            called = timeutils.utcnow()
            self.nova.swap_volume(record.instance_uuid, self.volume_id,
                                  new_volume.id)
            returned = timeutils.utcnow()
        except Exception as e:
            self._delete_dst_quietly()
            self._fail('Nova swap failed: %s' % e)
            return
        self._record_times(swap_called=called, swap_returned=returned)
        self._poll_swap()

    def _poll_swap(self) -> None:
        """Mirror Nova's swap_progress until the callback arrives.

        Nova reports a percent of the mirror; bytes are that share of
        the volume's size, and rate and ETA follow from them.
        """
        record = self.record
        size = self._volume().size_bytes
        estimator = progress_mod.Estimator(size)
        last = None
        while not self._abort.wait(self.conf.migration_poll_interval):
            if self._reload().status != MIG.MIGRATING:
                return
            try:
                bdm = self.nova.get_volume_attachment(record.instance_uuid,
                                                      self.volume_id)
            except exception.CinderException as e:
                LOG.debug('Polling swap progress: %s', e)
                continue
            progress = bdm.get('swap_progress')
            if progress is None:
                continue
            try:
                estimator.update(size * int(progress) // 100)
            except ValueError:
                continue
            snapshot = estimator.snapshot()
            if (progress, snapshot) != last:
                last = progress, snapshot
                with self._lock:
                    if self._reload().status == MIG.MIGRATING:
                        self._set_progress(progress, snapshot)

    def legacy_completion(self, error: bool) -> str:
        """Nova finished (or failed) the swap; returns save_volume_id."""
        called_back = timeutils.utcnow()
        with self._lock:
            record = self._reload()
            if record.status not in (MIG.MIGRATING, MIG.COMPLETING):
                raise exception.InvalidVolume(
                    reason='Source volume not mid-migration.')
            new_volume = self._new_volume()
            self._record_times(completion_callback=called_back)
            if error:
                self._delete_dst_quietly()
                self._fail('Nova reported the swap failed')
                return self.volume_id
            self._set_status(MIG.COMPLETING)
            self._finish_legacy(new_volume)
            return self.volume_id

    def _finish_legacy(self, new_volume: models.Volume) -> None:
        # Nova's new attachment moves to the volume; the old one goes
        # (Nova deletes it too and gets a quiet 404).
        moved = [a.id for a in self.db.attachment_get_all(
            self.ctx, volume_id=new_volume.id)]
        old = [a.id for a in self.db.attachment_get_all(
            self.ctx, volume_id=self.volume_id)]
        self._switch(new_volume, new_volume.id, move_attachments=moved,
                     delete_attachments=old)

    def _recover_unswitched(self, record: models.Migration) -> None:
        if record.status == MIG.STARTING:
            self._delete_dst_quietly()
            self._fail(base.RESTART_REASON)
        elif record.status == MIG.COMPLETING:
            self._finish_legacy(self._new_volume())
        else:
            # migrating: Nova's swap goes on; its callback finishes it.
            self._swap_requested = True
            self._poll_swap()
