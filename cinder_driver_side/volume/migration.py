"""Migration flows: detached copy, Nova start/copy/complete, legacy swap.

Statuses, on the volume (``migration_status``) and the migration record
alike: ``starting -> migrating -> completing -> success | error``.

* detached: dst created, copied (native in one array, generic between
  arrays or with force_host_copy), dst's data put under src's id, src
  deleted. No Nova.
* attached (DESIGN 7, protocol in doc/source/contributor/design-notes/
  cinder.rst): dst and a dst attachment B with src attachment A's
  connector; Nova start(A); copy; Nova complete(A, B); then B attached,
  A and src deleted, dst under src's id. A copy failure cancels on Nova
  and deletes B and dst: src is never touched.
* legacy: dst created, Nova swap; Nova mirrors and calls back
  os-migrate_volume_completion, which switches the ids.

Data is only ever deleted once the database says it is no longer the
volume's: the switch is one transaction, and src's file goes after it.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

from oslo_log import log as logging
from oslo_utils import timeutils
import tenacity

from cinder_driver_side.compute import nova as nova_mod
from cinder_driver_side import context as cinder_context
from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.volume import copy_engines

if TYPE_CHECKING:
    from cinder_driver_side.volume import manager as manager_mod

LOG = logging.getLogger(__name__)

DETACHED = 'detached'
ATTACHED = 'attached'
LEGACY = 'legacy'

ACTIVE_STATUSES = ('starting', 'migrating', 'completing')

NOVA_TERMINAL = ('completed', 'cancelled', 'error')
CANCEL_WAIT = 300.0
#: Seconds between progress writes during a copy: each is a database
#: commit (an fsync) competing with the copy's own I/O. volmig-bench
#: measured a 1 GiB native copy 4x slower than the array's raw copy with
#: one commit per percent.
PROGRESS_INTERVAL = 0.5


# Calls of Nova's complete while its record says nothing was switched.
COMPLETE_ATTEMPTS = 3


class _Unresolved(Exception):
    """Nova's outcome of complete could not be learnt (yet)."""


class MigrationFlow:
    """One migration, run in its own thread."""

    def __init__(self, manager: manager_mod.VolumeManager,
                 record: models.Migration):
        self.manager = manager
        self.db = manager.db
        self.conf = manager.conf
        self.nova = manager.nova
        self.ctx = cinder_context.get_admin_context()
        self.migration_id = record.id
        self.volume_id = record.volume_id
        self.kind = record.kind
        self.record = record
        self._abort = threading.Event()
        self._abort_reason = ''
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._last_percent: int | None = None

    # Thread control

    def start(self, recover: bool = False) -> None:
        self._thread = threading.Thread(
            target=self._main, args=(recover,), daemon=True,
            name='migration-%s' % self.volume_id[:8])
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def abort(self, reason: str) -> None:
        """Stop the copy (the flow then cancels and cleans up)."""
        self._abort_reason = reason
        self._abort.set()

    def abortable_by_other_actions(self) -> bool:
        """lock_volume=False detached migrations yield to other actions."""
        record = self._reload()
        return (record.kind == DETACHED and not record.lock_volume
                and record.status in ('starting', 'migrating'))

    def _main(self, recover: bool) -> None:
        try:
            if recover:
                self._recover()
            elif self.kind == DETACHED:
                self._run_detached()
            elif self.kind == ATTACHED:
                self._run_attached()
            else:
                self._run_legacy()
        except Exception as e:
            # Unknown state: record the error but delete nothing.
            LOG.exception('Migration %s of volume %s failed unexpectedly',
                          self.migration_id, self.volume_id)
            try:
                self._fail('unexpected error: %s' % e)
            except Exception:
                LOG.exception('Recording the failure of migration %s',
                              self.migration_id)
        finally:
            self.manager.flow_done(self)

    # Records

    def _reload(self) -> models.Migration:
        self.record = self.db.migration_get(self.ctx, self.migration_id)
        return self.record

    def _volume(self) -> models.Volume:
        return self.db.volume_get(self.ctx, self.volume_id)

    def _new_volume(self) -> models.Volume | None:
        new_id = self._reload().new_volume_id
        if not new_id:
            return None
        try:
            return self.db.volume_get(self.ctx, new_id)
        except exception.VolumeNotFound:
            return None

    def _set_status(self, status: str, **migration_values) -> None:
        LOG.info('Migration %s of volume %s: %s', self.migration_id,
                 self.volume_id, status)
        self.db.volume_update(self.ctx, self.volume_id, {
            'migration_status': status, 'migration_progress':
                '0' if status == 'migrating' else None})
        migration_values['status'] = status
        self.db.migration_update(self.ctx, self.migration_id,
                                 migration_values)

    def _record_times(self, **times) -> None:
        """Add phase timestamps (naive UTC datetimes) to the record.

        The times are taken around the step by the caller, so the database
        write is never inside the interval it measures.
        """
        with self._lock:
            phases = json.loads(self._reload().phase_times or '{}')
            phases.update({k: v.isoformat() for k, v in times.items()})
            self.db.migration_update(self.ctx, self.migration_id, {
                'phase_times': json.dumps(phases, sort_keys=True)})

    def _restored_status(self) -> dict:
        record = self.record
        if record.lock_volume and record.original_status:
            return {'status': record.original_status}
        return {}

    def _fail(self, message: str) -> None:
        LOG.error('Migration %s of volume %s failed: %s', self.migration_id,
                  self.volume_id, message)
        self._reload()
        values = {'migration_status': 'error', 'migration_progress': None}
        values.update(self._restored_status())
        self.db.volume_update(self.ctx, self.volume_id, values)
        self.db.migration_update(self.ctx, self.migration_id, {
            'status': 'error', 'error': message,
            'finished_at': timeutils.utcnow()})

    # Pieces shared by the flows

    def _create_dst(self) -> models.Volume:
        volume = self._volume()
        record = self.record
        dst_array, dst_pool = self.manager.array_for_host(record.dest_host)
        new_volume = self.db.volume_create(self.ctx, {
            'display_name': volume.display_name,
            'display_description': 'migration target of %s' % volume.id,
            'project_id': volume.project_id, 'user_id': volume.user_id,
            'size': volume.size, 'size_bytes': volume.size_bytes,
            'status': 'creating', 'attach_status': 'detached',
            'availability_zone': volume.availability_zone,
            'host': record.dest_host,
            'volume_type_id': record.new_type_id or volume.volume_type_id,
            'multiattach': volume.multiattach,
            'migration_status': 'target:%s' % volume.id})
        self.db.migration_update(self.ctx, self.migration_id,
                                 {'new_volume_id': new_volume.id})
        dst_array.create_volume(dst_pool, new_volume.backend_name,
                                volume.size_bytes)
        return self.db.volume_update(self.ctx, new_volume.id,
                                     {'status': 'available'})

    def _delete_dst(self) -> None:
        """Remove dst: its attachments, exports, file and row."""
        new_volume = self._new_volume()
        if new_volume is None:
            return
        volume = self._volume()
        dst_array, dst_pool = self.manager.array_for_host(
            self.record.dest_host)
        for att in self.db.attachment_get_all(self.ctx,
                                              volume_id=new_volume.id):
            self.db.attachment_destroy(self.ctx, att.id)
        dst_array.delete_volume(dst_pool, new_volume.backend_name)
        # A half-done detached switch may have linked src's name in the
        # dst pool; never touch src's own file.
        src_array, src_pool = self.manager.locate(volume)
        src_path = src_array.volume_path(src_pool, volume.backend_name)
        extra = 'volume-%s' % volume.id
        if dst_array.volume_path(dst_pool, extra) != src_path:
            dst_array.unlink_name(dst_pool, extra)
        self.db.volume_destroy(self.ctx, new_volume.id)

    def _bandwidth(self, src_array, dst_array) -> int:
        limits = [b for b in (src_array.copy_bandwidth,
                              dst_array.copy_bandwidth) if b]
        return min(limits) if limits else 0

    def _progress(self, size: int):
        written_at = [float('-inf')]

        def report(done: int) -> None:
            if self._abort.is_set():
                raise exception.CopyAborted(src=self.volume_id,
                                            dst=self.record.new_volume_id,
                                            reason=self._abort_reason)
            percent = min(100, done * 100 // size) if size else 100
            now = time.monotonic()
            if percent != self._last_percent and (
                    percent in (0, 100)
                    or now - written_at[0] >= PROGRESS_INTERVAL):
                written_at[0] = now
                self._last_percent = percent
                self.db.volume_update(self.ctx, self.volume_id,
                                      {'migration_progress': str(percent)})
                self.db.migration_update(self.ctx, self.migration_id, {
                    'progress': str(percent), 'bytes_copied': done})
        return report

    def _copy(self, new_volume: models.Volume) -> None:
        volume = self._volume()
        src_array, src_pool = self.manager.locate(volume)
        dst_array, dst_pool = self.manager.array_for_host(
            self.record.dest_host)
        src = src_array.volume_path(src_pool, volume.backend_name)
        dst = dst_array.volume_path(dst_pool, new_volume.backend_name)
        engine = copy_engines.get_engine(self.record.copy_engine or 'generic')
        self._last_percent = None
        started = timeutils.utcnow()
        result = engine.copy(src, dst, volume.size_bytes,
                             self._progress(volume.size_bytes),
                             self._bandwidth(src_array, dst_array))
        self._record_times(copy_started=started,
                           copy_finished=timeutils.utcnow())
        self.db.migration_update(self.ctx, self.migration_id,
                                 {'copy_method': result.method})
        if self.conf.migration_verify_copy:
            src_digest = copy_engines.file_digest(src, volume.size_bytes)
            dst_digest = copy_engines.file_digest(dst, volume.size_bytes)
            if src_digest != dst_digest:
                raise exception.CopyVerificationFailed(
                    src=src, dst=dst, src_digest=src_digest,
                    dst_digest=dst_digest)
            LOG.info('Migration %s: dst matches src (sha256 %s)',
                     self.migration_id, dst_digest)

    def _switch(self, new_volume: models.Volume, name_id: str | None,
                move_attachments=(), delete_attachments=()) -> None:
        """Put dst's data under the volume's id, then drop src's data.

        ``success`` shows only once src's data is gone; a restart in
        between finishes the deletion (``_finish_switched``).
        """
        volume = self._volume()
        old_backend_name = volume.backend_name
        values = {'host': self.record.dest_host, 'name_id': name_id,
                  'migration_progress': None}
        if self.record.new_type_id:
            values['volume_type_id'] = self.record.new_type_id
        values.update(self._restored_status())
        self.db.migration_update(self.ctx, self.migration_id, {
            'source_backend_name': old_backend_name})
        for att_id in delete_attachments:
            self.db.attachment_destroy(self.ctx, att_id)
        self.db.finish_volume_migration(self.ctx, self.volume_id,
                                        new_volume.id, values,
                                        move_attachments)
        self._finish_switched(old_backend_name)

    def _finish_switched(self, old_backend_name: str) -> None:
        """After the switch: delete src's data, then say success."""
        src_array, src_pool = self.manager.array_for_host(
            self.record.source_host)
        volume = self._volume()
        current = self.manager.locate(volume)
        if (src_array, src_pool) != current or \
                old_backend_name != volume.backend_name:
            src_array.delete_volume(src_pool, old_backend_name)
        self.db.volume_update(self.ctx, self.volume_id,
                              {'migration_status': 'success'})
        self.db.migration_update(self.ctx, self.migration_id, {
            'status': 'success', 'progress': '100',
            'finished_at': timeutils.utcnow()})
        LOG.info('Migration %s of volume %s: success (data now %s on %s)',
                 self.migration_id, self.volume_id, volume.backend_name,
                 self.record.dest_host)

    # Detached

    def _run_detached(self) -> None:
        try:
            new_volume = self._create_dst()
            self._set_status('migrating')
            self._copy(new_volume)
            # Again just before src goes: a client may have come.
            self.manager.check_not_in_use(self._volume())
        except Exception as e:
            self._delete_dst_quietly()
            self._fail(str(e))
            return
        self._set_status('completing')
        self._switch_detached(new_volume)

    def _switch_detached(self, new_volume: models.Volume) -> None:
        # Crash-safe rename of dst to src's id: link, switch, unlink.
        dst_array, dst_pool = self.manager.array_for_host(
            self.record.dest_host)
        wanted = 'volume-%s' % self.volume_id
        linked = dst_array.link_volume(dst_pool, new_volume.backend_name,
                                       wanted)
        if linked:
            # Safe before the switch: until it, src is the volume's data
            # and a restart drops dst under either name.
            dst_array.unlink_name(dst_pool, new_volume.backend_name)
        self._switch(new_volume, None if linked else new_volume.id)

    def _delete_dst_quietly(self) -> None:
        try:
            self._delete_dst()
        except Exception:
            LOG.exception('Migration %s: removing dst failed',
                          self.migration_id)

    # Attached: Nova start / copy / complete

    def _run_attached(self) -> None:
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
            if not (isinstance(e, exception.NovaAPIError)
                    and e.status is not None and e.status < 500):
                # The start may have reached Nova: undo it if it did.
                self._cancel_on_nova()
            self._delete_dst_quietly()
            self._fail('Nova refused to start the migration: %s' % e)
            return
        self._record_times(nova_start_called=called,
                           nova_start_returned=returned)
        try:
            self._set_status('migrating')
            self._copy(new_volume)
        except Exception as e:
            self._cancel_on_nova()
            self._delete_dst_quietly()
            self._fail(str(e))
            return
        self._set_status('completing')
        self._complete_attached(new_volume, dst_attachment.id)

    def _create_dst_attachment(self, new_volume: models.Volume
                               ) -> models.VolumeAttachment:
        src_attachment = self.db.attachment_get(
            self.ctx, self.record.src_attachment_id)
        attachment = self.db.attachment_create(self.ctx, {
            'volume_id': new_volume.id,
            'project_id': new_volume.project_id,
            'instance_uuid': src_attachment.instance_uuid,
            'attach_status': 'reserved', 'attach_mode':
                src_attachment.attach_mode})
        self.db.migration_update(self.ctx, self.migration_id,
                                 {'dst_attachment_id': attachment.id})
        connector = json.loads(src_attachment.connector or '{}')
        return self.manager.connect_attachment(self.ctx, new_volume,
                                               attachment, connector)

    def _complete_attached(self, new_volume: models.Volume,
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
            except _Unresolved as unresolved:
                LOG.error('Migration %s stays completing: %s; the next '
                          'service start resolves it', self.migration_id,
                          unresolved)
                return
            if outcome == 'switched':
                break
            if outcome == 'running' and attempt < COMPLETE_ATTEMPTS:
                LOG.info('Migration %s: Nova switched nothing; complete '
                         'again (attempt %d)', self.migration_id,
                         attempt + 1)
                continue
            if outcome == 'running':
                self._cancel_on_nova()
            if outcome in ('running', 'not_switched'):
                self._delete_dst_quietly()
                self._fail('Nova did not complete the migration: %s'
                           % error)
                return
            self._fail('Nova failed the migration during complete: '
                       '%s; dst volume %s and attachment %s are kept '
                       'for inspection' % (error, new_volume.id,
                                           dst_attachment_id))
            return
        self._finish_attached(new_volume, dst_attachment_id)

    def _finish_attached(self, new_volume: models.Volume,
                         dst_attachment_id: str) -> None:
        self.db.attachment_update(self.ctx, dst_attachment_id, {
            'attach_status': 'attached', 'attach_time': timeutils.utcnow()})
        self._switch(new_volume, new_volume.id,
                     move_attachments=[dst_attachment_id],
                     delete_attachments=[self.record.src_attachment_id])

    def _resolve_complete(self) -> str:
        """After a failed or unknown complete, read Nova's record.

        ``switched`` (completed: src released), ``running`` (nothing was
        switched: complete may be called again), ``not_switched``
        (cancelled) or ``nova_error``.
        ``completing`` alone is no answer: Nova may still be switching,
        or about to put the record back to ``running`` because the switch
        failed, so it is waited out (``nova_complete_timeout``) before src
        is touched. Raises _Unresolved when Nova cannot be asked or stays
        ``completing``: nothing is deleted then.
        """
        timeout = self.conf.nova_complete_timeout

        @tenacity.retry(
            retry=(tenacity.retry_if_exception_type(
                exception.NovaConnectionFailed)
                | tenacity.retry_if_result(
                    lambda record: record.get('status') == 'completing')),
            stop=tenacity.stop_after_delay(timeout),
            wait=tenacity.wait_exponential(multiplier=0.5, max=10),
            retry_error_callback=lambda state: state.outcome.result())
        def read():
            return self.nova.get_volume_migration(
                self.record.src_attachment_id)

        try:
            status = read().get('status')
        except exception.CinderException as e:
            raise _Unresolved(str(e))
        LOG.info('Migration %s: Nova says %s', self.migration_id, status)
        if status == 'completing':
            raise _Unresolved('Nova still says completing after %ss'
                              % timeout)
        if status in nova_mod.SWITCHED:
            return 'switched'
        if status in ('starting', 'running'):
            return 'running'
        if status in ('cancelling', 'cancelled'):
            return 'not_switched'
        return 'nova_error'

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
            if status in NOVA_TERMINAL:
                return
            if self._abort.wait(0.2):
                LOG.info('Migration %s: not waiting for Nova\'s cancel to '
                         'end (%s)', self.migration_id, self._abort_reason)
                return
        LOG.warning('Migration %s: Nova\'s migration is not terminal '
                    'after %d s', self.migration_id, CANCEL_WAIT)

    # Legacy: Nova swap + os-migrate_volume_completion

    def _run_legacy(self) -> None:
        record = self.record
        try:
            new_volume = self._create_dst()
            self._set_status('migrating')
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
        """Mirror Nova's swap_progress until the callback arrives."""
        record = self.record
        last = None
        while not self._abort.wait(self.conf.migration_poll_interval):
            if self._reload().status != 'migrating':
                return
            try:
                bdm = self.nova.get_volume_attachment(record.instance_uuid,
                                                      self.volume_id)
            except exception.CinderException as e:
                LOG.debug('Polling swap progress: %s', e)
                continue
            progress = bdm.get('swap_progress')
            if progress is not None and progress != last:
                last = progress
                with self._lock:
                    if self._reload().status == 'migrating':
                        self.db.volume_update(
                            self.ctx, self.volume_id,
                            {'migration_progress': str(progress)})
                        self.db.migration_update(
                            self.ctx, self.migration_id,
                            {'progress': str(progress)})

    def legacy_completion(self, error: bool) -> str:
        """Nova finished (or failed) the swap; returns save_volume_id."""
        called_back = timeutils.utcnow()
        with self._lock:
            record = self._reload()
            if record.status not in ('migrating', 'completing'):
                raise exception.InvalidVolume(
                    reason='Source volume not mid-migration.')
            new_volume = self._new_volume()
            self._record_times(completion_callback=called_back)
            if error:
                self._delete_dst_quietly()
                self._fail('Nova reported the swap failed')
                return self.volume_id
            self._set_status('completing')
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

    # Recovery after a restart

    def _recover(self) -> None:
        record = self._reload()
        LOG.warning('Recovering migration %s of volume %s (%s, %s)',
                    record.id, record.volume_id, record.kind, record.status)
        reason = 'interrupted by a restart of the volume service'
        if record.source_backend_name and self._new_volume() is None:
            # Switched already; only src's data was left to delete.
            self._finish_switched(record.source_backend_name)
            return
        if record.kind == DETACHED:
            self._delete_dst_quietly()
            self._fail(reason)
        elif record.kind == ATTACHED:
            if record.status != 'completing':
                self._cancel_on_nova()
                self._delete_dst_quietly()
                self._fail(reason)
                return
            new_volume = self._new_volume()
            try:
                outcome = self._resolve_complete()
            except _Unresolved as e:
                LOG.error('Migration %s stays completing: %s',
                          record.id, e)
                return
            if outcome == 'switched' and new_volume is not None:
                self._finish_attached(new_volume, record.dst_attachment_id)
            elif outcome in ('running', 'not_switched'):
                if outcome == 'running':
                    self._cancel_on_nova()
                self._delete_dst_quietly()
                self._fail(reason)
            else:
                self._fail('Nova failed the migration during complete; '
                           'dst volume %s kept for inspection'
                           % record.new_volume_id)
        else:
            if record.status == 'starting':
                self._delete_dst_quietly()
                self._fail(reason)
            elif record.status == 'completing':
                self._finish_legacy(self._new_volume())
            else:
                self._poll_swap()
