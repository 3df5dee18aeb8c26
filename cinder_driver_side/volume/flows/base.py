"""What every migration flow shares: thread, records, dst, copy, switch.

A flow runs one migration in its own thread. Its strategy (detached,
attached, legacy) says how the data moves and how an interrupted run is
recovered; this base holds the steps they share. Collaborators come in
through the constructor (``Collaborators``): the flows never import the
manager.

Data is only ever deleted once the database says it is no longer the
volume's: the switch is one transaction, and src's file goes after it.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import threading
import time
from typing import Callable

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from cinder_driver_side.compute import nova as nova_mod
from cinder_driver_side import context as cinder_context
from cinder_driver_side.db import api as db_api
from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.objects import fields
from cinder_driver_side.volume import copy_engines
from cinder_driver_side.volume.flows import cancel
from cinder_driver_side.volume import placement as placement_mod
from cinder_driver_side.volume import progress as progress_mod

LOG = logging.getLogger(__name__)

MIG = fields.VolumeMigrationStatus

#: Seconds between progress writes during a copy: each is a database
#: commit (an fsync) competing with the copy's own I/O. volmig-bench
#: measured a 1 GiB native copy 4x slower than the array's raw copy with
#: one commit per percent.
PROGRESS_INTERVAL = 0.5

RESTART_REASON = 'interrupted by a restart of the volume service'

#: The volume's live progress fields (3.72), reset when a copy starts.
_PROGRESS_FIELDS = ('migration_bytes_done', 'migration_bytes_total',
                    'migration_rate', 'migration_eta')


@dataclasses.dataclass(frozen=True)
class Collaborators:
    """What a flow works with, handed in by whoever starts it."""

    conf: cfg.ConfigOpts
    db: db_api.Connection
    nova: nova_mod.NovaClient
    placement: placement_mod.Placement
    #: ``(ctx, volume, attachment, connector) -> attachment``: export a
    #: volume for an attachment (the manager's connect_attachment).
    connect_attachment: Callable[..., models.VolumeAttachment]
    #: Called with the flow when its thread ends, whatever the outcome.
    done: Callable[['MigrationFlow'], None]


class MigrationFlow(cancel.CancelMixin, abc.ABC):
    """One migration, run in its own thread; subclasses are strategies."""

    #: The ``migrations.kind`` a subclass runs.
    kind: str = ''

    def __init__(self, record: models.Migration, deps: Collaborators):
        self.deps = deps
        self.db = deps.db
        self.conf = deps.conf
        self.nova = deps.nova
        self.placement = deps.placement
        self.ctx = cinder_context.get_admin_context()
        self.migration_id = record.id
        self.volume_id = record.volume_id
        self.record = record
        self._abort = threading.Event()
        self._abort_reason = ''
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._last_percent: int | None = None

    @staticmethod
    def copy_engine(force_host_copy: bool, same_array: bool) -> str | None:
        """The copy engine a new migration of this kind records."""
        if force_host_copy or not same_array:
            return fields.CopyEngine.GENERIC
        return fields.CopyEngine.NATIVE

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
        """Whether an attach may end this migration (detached only)."""
        return False

    def _main(self, recover: bool) -> None:
        try:
            if recover:
                self.recover()
            else:
                self.run()
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
            self.deps.done(self)

    @abc.abstractmethod
    def run(self) -> None:
        """Move the data, from ``starting`` to ``success`` or ``error``."""

    def recover(self) -> None:
        """Go on after a restart of the service (from init_host)."""
        record = self._reload()
        LOG.warning('Recovering migration %s of volume %s (%s, %s)',
                    record.id, record.volume_id, record.kind, record.status)
        if record.source_backend_name and self._new_volume() is None:
            # Switched already; only src's data was left to delete.
            self._finish_switched(record.source_backend_name)
            return
        self._recover_unswitched(record)

    @abc.abstractmethod
    def _recover_unswitched(self, record: models.Migration) -> None:
        """Recover a migration whose switch had not happened."""

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
        values = {'migration_status': status, 'migration_progress':
                  '0' if status == MIG.MIGRATING else None}
        if status == MIG.MIGRATING:
            values.update(dict.fromkeys(_PROGRESS_FIELDS))
        self.db.volume_update(self.ctx, self.volume_id, values)
        migration_values['status'] = status
        self.db.migration_update(self.ctx, self.migration_id,
                                 migration_values)

    def _set_progress(self, percent: int | str,
                      snapshot: progress_mod.Snapshot | None = None,
                      **migration_values) -> None:
        values = {'migration_progress': str(percent)}
        if snapshot is not None:
            values.update({
                'migration_bytes_done': snapshot.bytes_done,
                'migration_bytes_total': snapshot.bytes_total,
                'migration_rate': snapshot.rate,
                'migration_eta': snapshot.eta})
            migration_values.update({
                'bytes_copied': snapshot.bytes_done,
                'bytes_total': snapshot.bytes_total,
                'rate': snapshot.rate, 'eta': snapshot.eta})
        self.db.volume_update(self.ctx, self.volume_id, values)
        migration_values['progress'] = str(percent)
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
        status = MIG.ERROR
        if self._cancel_requested:
            status, message = MIG.CANCELLED, cancel.CANCEL_REASON
        values = {'migration_status': status, 'migration_progress': None}
        values.update(self._restored_status())
        self.db.migration_end(self.ctx, self.migration_id, self.volume_id,
                              values, {'status': status, 'error': message,
                                       'finished_at': timeutils.utcnow()})

    # dst

    def _create_dst(self) -> models.Volume:
        volume = self._volume()
        record = self.record
        dst_array, dst_pool = self.placement.array_for_host(record.dest_host)
        new_volume = self.db.volume_create(self.ctx, {
            'display_name': volume.display_name,
            'display_description': 'migration target of %s' % volume.id,
            'project_id': volume.project_id, 'user_id': volume.user_id,
            'size': volume.size, 'size_bytes': volume.size_bytes,
            'status': fields.VolumeStatus.CREATING,
            'attach_status': fields.VolumeAttachStatus.DETACHED,
            'availability_zone': volume.availability_zone,
            'host': record.dest_host,
            'volume_type_id': record.new_type_id or volume.volume_type_id,
            'multiattach': volume.multiattach,
            'migration_status': MIG.target(volume.id)})
        self.db.migration_update(self.ctx, self.migration_id,
                                 {'new_volume_id': new_volume.id})
        dst_array.create_volume(dst_pool, new_volume.backend_name,
                                volume.size_bytes)
        return self.db.volume_update(
            self.ctx, new_volume.id,
            {'status': fields.VolumeStatus.AVAILABLE})

    def _delete_dst(self) -> None:
        """Remove dst: its attachments, exports, file and row."""
        new_volume = self._new_volume()
        if new_volume is None:
            return
        volume = self._volume()
        dst_array, dst_pool = self.placement.array_for_host(
            self.record.dest_host)
        for att in self.db.attachment_get_all(self.ctx,
                                              volume_id=new_volume.id):
            self.db.attachment_destroy(self.ctx, att.id)
        dst_array.delete_volume(dst_pool, new_volume.backend_name)
        # A half-done detached switch may have linked src's name in the
        # dst pool; never touch src's own file.
        src_array, src_pool = self.placement.locate(volume)
        src_path = src_array.volume_path(src_pool, volume.backend_name)
        extra = 'volume-%s' % volume.id
        if dst_array.volume_path(dst_pool, extra) != src_path:
            dst_array.unlink_name(dst_pool, extra)
        self.db.volume_destroy(self.ctx, new_volume.id)

    def _delete_dst_quietly(self) -> None:
        try:
            self._delete_dst()
        except Exception:
            LOG.exception('Migration %s: removing dst failed',
                          self.migration_id)

    # Copy

    def _bandwidth(self, src_array, dst_array) -> int:
        """The copy's limit: the request's, else the backends' lower."""
        if self.record.requested_bandwidth is not None:
            return self.record.requested_bandwidth
        limits = [b for b in (src_array.copy_bandwidth,
                              dst_array.copy_bandwidth) if b]
        return min(limits) if limits else 0

    @staticmethod
    def _array_rate(engine, src_array, dst_array):
        """The array's copy engine rate, for a native copy inside it."""
        if engine.name == 'native' and src_array is dst_array:
            return getattr(src_array, 'copy_rate', None)
        return None

    @staticmethod
    def _stall_timeout(src_array, dst_array) -> int:
        """The lower nonzero ``migration_stall_timeout``; 0 = never."""
        limits = [t for t in (getattr(src_array, 'stall_timeout', 0),
                              getattr(dst_array, 'stall_timeout', 0)) if t]
        return min(limits) if limits else 0

    def _progress(self, estimator: progress_mod.Estimator,
                  watchdog: progress_mod.StallWatchdog
                  ) -> Callable[[int], None]:
        """The copy's report callback: abort point and progress writes.

        Written every PROGRESS_INTERVAL while the copy moves; 0 % was
        written just before it (``_copy``), 100 % is written after it.
        """
        written_at = [time.monotonic()]
        size = estimator.total

        def report(done: int) -> None:
            if self._abort.is_set():
                raise exception.CopyAborted(src=self.volume_id,
                                            dst=self.record.new_volume_id,
                                            reason=self._abort_reason)
            watchdog.check()
            estimator.update(done)
            percent = min(100, done * 100 // size) if size else 100
            if percent == 100:
                # Written once the copy returns, with its method and
                # phase times (_copy): not a commit of its own.
                return
            now = time.monotonic()
            # Rate and ETA change without the percent: write at least
            # every PROGRESS_INTERVAL while the copy moves.
            if now - written_at[0] >= PROGRESS_INTERVAL:
                written_at[0] = now
                self._last_percent = percent
                self._set_progress(percent, estimator.snapshot())
        return report

    def _copy(self, new_volume: models.Volume) -> None:
        """Copy src to dst (copy_engines), then verify if configured."""
        volume = self._volume()
        src_array, src_pool = self.placement.locate(volume)
        dst_array, dst_pool = self.placement.array_for_host(
            self.record.dest_host)
        src = src_array.volume_path(src_pool, volume.backend_name)
        dst = dst_array.volume_path(dst_pool, new_volume.backend_name)
        engine = copy_engines.get_engine(self.record.copy_engine
                                         or fields.CopyEngine.GENERIC)
        bandwidth = self._bandwidth(src_array, dst_array)
        # With the limit, the size and 0 bytes done: the copy's first
        # report (0 %) has nothing left to write (the status change to
        # migrating wrote 0 %).
        self.db.migration_update(self.ctx, self.migration_id, {
            'bandwidth': bandwidth, 'bytes_total': volume.size_bytes,
            'bytes_copied': 0, 'progress': '0'})
        self.db.volume_update(self.ctx, self.volume_id, {
            'migration_bandwidth': bandwidth,
            'migration_bytes_total': volume.size_bytes,
            'migration_bytes_done': 0})
        self._last_percent = 0
        estimator = progress_mod.Estimator(volume.size_bytes)
        started = timeutils.utcnow()
        with progress_mod.StallWatchdog(
                estimator, self._stall_timeout(src_array, dst_array),
                self._abort, name='stall-%s' % self.volume_id[:8]) as dog:
            result = engine.copy(src, dst, volume.size_bytes,
                                 self._progress(estimator, dog),
                                 bandwidth, wakeup=dog.wakeup,
                                 shared=self._array_rate(engine, src_array,
                                                         dst_array))
        finished = timeutils.utcnow()
        # 100 %, the method and the phase times: the copy's bookkeeping
        # after it, in as few commits as it takes.
        self._last_percent = 100
        self._set_progress(100, estimator.snapshot(),
                           copy_method=result.method)
        self._record_times(copy_started=started, copy_finished=finished)
        if self.conf.migration_verify_copy:
            src_digest = copy_engines.file_digest(src, volume.size_bytes)
            dst_digest = copy_engines.file_digest(dst, volume.size_bytes)
            if src_digest != dst_digest:
                raise exception.CopyVerificationFailed(
                    src=src, dst=dst, src_digest=src_digest,
                    dst_digest=dst_digest)
            LOG.info('Migration %s: dst matches src (sha256 %s)',
                     self.migration_id, dst_digest)

    # Switch

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
        src_array, src_pool = self.placement.array_for_host(
            self.record.source_host)
        volume = self._volume()
        current = self.placement.locate(volume)
        if (src_array, src_pool) != current or \
                old_backend_name != volume.backend_name:
            src_array.delete_volume(src_pool, old_backend_name)
        self.db.migration_end(
            self.ctx, self.migration_id, self.volume_id,
            {'migration_status': MIG.SUCCESS},
            {'status': MIG.SUCCESS, 'progress': '100',
             'finished_at': timeutils.utcnow()})
        LOG.info('Migration %s of volume %s: success (data now %s on %s)',
                 self.migration_id, self.volume_id, volume.backend_name,
                 self.record.dest_host)
