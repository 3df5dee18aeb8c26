"""Volume migration on libvirt: start, complete, cancel, reconcile.

The mechanics are DESIGN 5's (verified on libvirt 9.0 / QEMU 7.2):

* running, start: qcow2 OVERLAY1 over src, disk-only external snapshot of
  that disk onto it (src is then read-only in QEMU);
* running, complete: ``two_step`` copies OVERLAY1 shallowly and
  write-blocking onto OVERLAY2 over dst and pivots (src closed), then,
  asynchronously, commits OVERLAY2 into dst and pivots;
  ``write_blocking`` copies OVERLAY1 straight onto dst and pivots;
* running, cancel: asynchronously commits OVERLAY1 into src and pivots;
* shut off: start changes nothing; complete re-points the persistent disk;
  a domain that went off on an overlay is finished with ``qemu-img``.

Where the disk stands is always read from libvirt (live XML when the
domain runs, persistent XML when it is off) and classified against src,
dst and the two overlays, whose names are derived from the instance and
the src attachment; step markers are saved in the migration's driver_data
before and after each step for the record and for reconciliation. After
every pivot the persistent definition is updated to the live chain, so a
domain that stops at any point boots on the right disks.
"""

from __future__ import annotations

import os

import libvirt
from oslo_config import cfg
from oslo_log import log as logging

from nova_volmig import exception
from nova_volmig.virt import driver as virt_driver
from nova_volmig.virt.libvirt import blockjob
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import images
from nova_volmig.virt.libvirt import rebase
from nova_volmig.virt.libvirt import volume

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

State = virt_driver.ReconcileState

# Step markers saved in driver_data['step'].
STEP_START_OFFLINE = 'started_offline'
STEP_START_CREATING_OVERLAY = 'start:creating_overlay'
STEP_START_SNAPSHOT = 'start:snapshot'
STEP_START_FAILED = 'start:failed'
STEP_STARTED = 'started'
STEP_COMPLETE_CREATING_OVERLAY = 'complete:creating_overlay'
STEP_COMPLETE_COPY = 'complete:copy'
STEP_COMPLETE_FAILED = 'complete:failed'
STEP_COMPLETE_REBASE = 'complete:offline_rebase'
STEP_SWITCHED = 'complete:switched'
STEP_COMPLETE_COMMIT = 'complete:commit'
STEP_COMPLETE_COMMITTED = 'complete:committed'
STEP_COMPLETE_OFFLINE_COMMIT = 'complete:offline_commit'
STEP_COMPLETED = 'completed'
STEP_CANCEL_REQUESTED = 'cancel:requested'
STEP_CANCEL_COMMIT = 'cancel:commit'
STEP_CANCEL_COMMITTED = 'cancel:committed'
STEP_CANCEL_OFFLINE_COMMIT = 'cancel:offline_commit'
STEP_CANCELLED = 'cancelled'
STEP_RECONCILED = 'reconciled'

MODE_TWO_STEP = 'two_step'
MODE_WRITE_BLOCKING = 'write_blocking'
MODE_REBASE = rebase.MODE_REBASE

COPY = libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY
ACTIVE_COMMIT = libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT


def overlay_paths(instance_uuid: str, src_attachment_id: str
                  ) -> tuple[str, str]:
    """(start overlay, complete overlay) of one migration."""
    base = os.path.join(CONF.libvirt.volume_migration_overlay_dir,
                        '%s_%s' % (instance_uuid, src_attachment_id))
    return base + '_start.qcow2', base + '_complete.qcow2'


class _Layout:
    """The four disks a migration involves, and where a chain stands."""

    def __init__(self, migration, with_dst: bool = True):
        self.migration = migration
        self.device_name = migration.device_name
        self.disk = (migration.driver_data or {}).get('disk') or \
            config.target_dev(migration.device_name)
        self.src = volume.disk_source(migration.src_connection_info)
        self.dst = (volume.disk_source(migration.dst_connection_info)
                    if with_dst and migration.dst_connection_info else None)
        ov1, ov2 = overlay_paths(migration.instance_uuid,
                                 migration.src_attachment_id)
        self.start_overlay = config.DiskSource('file', 'qcow2', path=ov1,
                                               backing=self.src)
        self.complete_overlay = (
            config.DiskSource('file', 'qcow2', path=ov2, backing=self.dst)
            if self.dst else None)
        self.overlay_files = (ov1, ov2)

    def is_overlay(self, layer: config.DiskSource) -> bool:
        return layer.kind == 'file' and layer.path in self.overlay_files

    def classify(self, source: config.DiskSource | None,
                 domain: str) -> State:
        """Where the disk whose active layer is ``source`` stands."""
        if source is not None:
            if self.src.same_location(source):
                return State.ON_SRC
            if self.dst is not None and self.dst.same_location(source):
                return State.ON_DST
            if self.is_overlay(source):
                backing = source.backing
                if backing is None:
                    backing = self._backing_from_image(source.path)
                if self.src.same_location(backing):
                    return State.OVERLAY_ON_SRC
                if self.dst is not None and self.dst.same_location(backing):
                    return State.SWITCHED_TO_DST
        raise lv_exc.UnexpectedDiskChain(
            disk=self.disk, domain=domain,
            actual=source.describe() if source else 'nothing',
            expected='src %s, dst %s or an overlay over one of them'
                     % (self.src.uri, self.dst.uri if self.dst else '-'))

    @staticmethod
    def _backing_from_image(path: str) -> config.DiskSource | None:
        try:
            info = images.info(path)
        except exception.NovaVolmigException:
            return None
        if not info.backing_file:
            return None
        return config.DiskSource.from_uri(info.backing_file,
                                          info.backing_format or 'raw')


class LibvirtVolumeMigrator:
    """The libvirt side of DESIGN 5, called by ``LibvirtDriver``."""

    def __init__(self, host):
        self.host = host

    # start

    def start(self, instance, migration) -> None:
        layout = _Layout(migration, with_dst=False)
        guest = self.host.get_guest(instance)
        if not guest.is_active():
            state = self._persistent_state(guest, layout)
            if state is not State.ON_SRC:
                self._refuse(migration, guest, 'start',
                             'the stopped domain is on %s' % state.value)
            # DESIGN 5: start changes nothing on disk of a stopped domain.
            migration.save_driver_data(disk=layout.disk, was_running=False,
                                       step=STEP_START_OFFLINE)
            return
        disk = guest.get_disk(layout.disk)
        if disk.mirror is not None:
            raise exception.VolumeMigrationUnsupported(
                instance_uuid=guest.uuid,
                reason='disk %s has a block job running' % layout.disk)
        state = layout.classify(disk.source, guest.uuid)
        if state is State.OVERLAY_ON_SRC:
            return  # already started (a retry after a lost answer)
        if state is not State.ON_SRC:
            self._refuse(migration, guest, 'start',
                         'the disk is on %s' % state.value)
        overlay = layout.start_overlay
        images.ensure_usable_dir(os.path.dirname(overlay.path))
        # A leftover of a failed start is not in any chain: drop it.
        images.remove(overlay.path)
        migration.save_driver_data(disk=layout.disk, was_running=True,
                                   start_overlay=overlay.path,
                                   step=STEP_START_CREATING_OVERLAY)
        try:
            images.create_overlay(
                overlay.path, layout.src.uri, layout.src.format,
                CONF.libvirt.volume_migration_overlay_options)
            migration.save_driver_data(step=STEP_START_SNAPSHOT)
            targets = [d.target for d in guest.get_disks()]
            guest.snapshot(config.snapshot_xml(targets, layout.disk, overlay),
                           disk_only=True, reuse_ext=True, no_metadata=True,
                           atomic=True)
        except Exception as e:
            # ATOMIC: a failed snapshot changed nothing; src is in use.
            images.remove(overlay.path)
            migration.save_driver_data(step=STEP_START_FAILED)
            if isinstance(e, libvirt.libvirtError):
                raise lv_exc.LibvirtCallFailed(
                    call='snapshotCreateXML', domain=guest.uuid, reason=e)
            raise
        self._expect(guest, layout, State.OVERLAY_ON_SRC)
        migration.save_driver_data(step=STEP_STARTED)
        LOG.info('Volume migration of %s started: domain %s disk %s writes '
                 'to %s', migration.src_attachment_id, guest.uuid,
                 layout.disk, overlay.path)

    # complete

    def complete(self, instance, migration) -> None:
        layout = _Layout(migration)
        if layout.dst is None:
            raise lv_exc.VolumeMigrationStateError(
                attachment_id=migration.src_attachment_id,
                domain=instance.uuid, action='complete',
                reason='no dst connection_info')
        guest = self.host.get_guest(instance)
        if not guest.is_active():
            return self._complete_offline(guest, layout)
        disk = guest.get_disk(layout.disk)
        state = layout.classify(disk.source, guest.uuid)
        if state in (State.SWITCHED_TO_DST, State.ON_DST):
            return  # src already released (a retry)
        if state is State.ON_SRC:
            self._refuse(migration, guest, 'complete',
                         'the running domain writes to src directly; start '
                         'did not redirect its writes')
        device = guest.get_block_device(layout.disk)
        if disk.mirror is not None:
            self._abort_job(device, 'leftover')
        mode = CONF.libvirt.volume_migration_complete_mode
        if mode == MODE_REBASE:
            live = rebase.complete(guest, layout, migration, disk)
            if live is not None:
                return self._switched(guest, layout, migration,
                                      State.SWITCHED_TO_DST, live)
            mode = MODE_TWO_STEP
        if mode == MODE_TWO_STEP:
            target = layout.complete_overlay
            images.remove(target.path)
            migration.save_driver_data(complete_overlay=target.path,
                                       complete_mode=mode,
                                       step=STEP_COMPLETE_CREATING_OVERLAY)
            images.create_overlay(
                target.path, layout.dst.uri, layout.dst.format,
                CONF.libvirt.volume_migration_overlay_options)
        else:
            target = layout.dst
        migration.save_driver_data(complete_mode=mode,
                                   step=STEP_COMPLETE_COPY)
        try:
            self._mirror_and_pivot(
                guest, layout, migration, 'volume migration complete copy',
                COPY, lambda dev: dev.copy(
                    target.copy_target_xml(), shallow=True, reuse_ext=True,
                    transient=True, synchronous_writes=True))
        except Exception as e:
            # A pivot that timed out may still land on the overlay: keep it.
            if mode == MODE_TWO_STEP and not isinstance(
                    e, lv_exc.BlockJobPivotTimeout):
                images.remove(target.path)
            migration.save_driver_data(step=STEP_COMPLETE_FAILED)
            raise
        self._switched(guest, layout, migration,
                       State.SWITCHED_TO_DST if mode == MODE_TWO_STEP
                       else State.ON_DST)

    def _switched(self, guest, layout, migration, expected: State,
                  live: config.DiskSource | None = None) -> None:
        """src released: the persistent definition boots what QEMU has.

        ``live`` is the live chain if the caller just made it, else it is
        read and must be in state ``expected``.
        """
        if live is None:
            live = self._expect(guest, layout, expected)
        self._persist_live_disk(guest, layout, live)
        migration.save_driver_data(step=STEP_SWITCHED)
        LOG.info('Volume migration of %s: domain %s released src',
                 migration.src_attachment_id, guest.uuid)

    def complete_finish(self, instance, migration) -> None:
        layout = _Layout(migration)
        guest = self.host.get_guest(instance)
        if not guest.is_active():
            self._complete_offline(guest, layout)
            return self._finish_offline_commit(guest, layout)
        disk = guest.get_disk(layout.disk)
        state = layout.classify(disk.source, guest.uuid)
        if state is State.SWITCHED_TO_DST:
            bandwidth = CONF.libvirt.volume_migration_bandwidth
            migration.save_driver_data(step=STEP_COMPLETE_COMMIT,
                                       commit_bandwidth=bandwidth)
            device = guest.get_block_device(layout.disk)
            if disk.mirror is not None:
                self._abort_job(device, 'leftover')
            if (migration.driver_data or {}).get(
                    'complete_mode') == MODE_REBASE:
                rebase.name_dst(guest, layout, migration, disk)
                job = ('volume migration complete copy into dst', COPY,
                       rebase.copy_into_dst(layout, bandwidth))
            else:
                job = ('volume migration complete commit', ACTIVE_COMMIT,
                       lambda dev: dev.commit(active=True,
                                              bandwidth=bandwidth))
            self._mirror_and_pivot(guest, layout, migration, *job)
            self._expect(guest, layout, State.ON_DST)
            rebase.settle_view(guest, layout)
            self._persist_live_disk(guest, layout)
            migration.save_driver_data(step=STEP_COMPLETE_COMMITTED)
        elif state is not State.ON_DST:
            self._refuse(migration, guest, 'finish complete',
                         'the disk is on %s' % state.value)
        self._cleanup(guest, layout, migration, STEP_COMPLETED)

    # cancel

    def cancel(self, instance, migration) -> None:
        migration.save_driver_data(step=STEP_CANCEL_REQUESTED)

    def cancel_finish(self, instance, migration) -> None:
        layout = _Layout(migration, with_dst=False)
        guest = self.host.get_guest(instance)
        if not guest.is_active():
            return self._cancel_offline(guest, layout)
        disk = guest.get_disk(layout.disk)
        state = layout.classify(disk.source, guest.uuid)
        if state is State.OVERLAY_ON_SRC:
            device = guest.get_block_device(layout.disk)
            if disk.mirror is not None:
                # A complete copy that failed: the guest stays on OVERLAY1.
                self._abort_job(device, 'leftover')
            bandwidth = CONF.libvirt.volume_migration_bandwidth
            migration.save_driver_data(step=STEP_CANCEL_COMMIT,
                                       commit_bandwidth=bandwidth)
            self._mirror_and_pivot(
                guest, layout, migration, 'volume migration cancel commit',
                ACTIVE_COMMIT,
                lambda dev: dev.commit(active=True, bandwidth=bandwidth))
            self._expect(guest, layout, State.ON_SRC)
            self._persist_live_disk(guest, layout)
            migration.save_driver_data(step=STEP_CANCEL_COMMITTED)
        elif state is not State.ON_SRC:
            self._refuse(migration, guest, 'cancel',
                         'the disk is already on %s' % state.value)
        self._cleanup(guest, layout, migration, STEP_CANCELLED)

    # reconcile

    def reconcile(self, instance, migration) -> State:
        layout = _Layout(migration)
        guest = self.host.get_guest(instance)
        if guest.is_active():
            if (migration.driver_data or {}).get('step') in (
                    rebase.STEP_REBASE_SWITCH, rebase.STEP_REBASE_SWITCHED
            ) and layout.dst is not None:
                rebase.recover(guest, layout, migration)
            disk = guest.get_disk(layout.disk)
            if disk.mirror is not None or guest.get_block_device(
                    layout.disk).get_job_info() is not None:
                self._settle_job(guest, layout, migration, disk)
                disk = guest.get_disk(layout.disk)
            state = layout.classify(disk.source, guest.uuid)
            if state is State.ON_DST and layout.dst is not None:
                rebase.settle_view(guest, layout)
            self._persist_live_disk(guest, layout)
            saved = (migration.driver_data or {}).get('saved_iotune')
            if saved:
                blockjob.restore_limits(guest, layout.disk, saved)
                migration.save_driver_data(saved_iotune=None)
        else:
            state = self._persistent_state(guest, layout)
            # Limits were set on the live disk only: nothing to restore.
            migration.save_driver_data(saved_iotune=None)
        self._remove_unused_overlays(layout, guest)
        migration.save_driver_data(step=STEP_RECONCILED,
                                   reconciled_state=state.value)
        LOG.info('Volume migration of %s on domain %s reconciled: %s',
                 migration.src_attachment_id, guest.uuid, state.value)
        return state

    def _settle_job(self, guest, layout, migration, disk) -> None:
        """Finish or abort the block job found on the disk."""
        device = guest.get_block_device(layout.disk)
        info = device.get_job_info()
        job_type = info.job if info else (
            ACTIVE_COMMIT if disk.mirror_job == 'active-commit' else COPY)
        ours = (job_type == ACTIVE_COMMIT and layout.is_overlay(disk.source)
                ) or (job_type == COPY and disk.mirror is not None and (
                    layout.is_overlay(disk.mirror)
                    or (layout.dst is not None
                        and layout.dst.same_location(disk.mirror))))
        if not ours:
            LOG.warning('Aborting unknown %s job on disk %s of domain %s',
                        info.name if info else disk.mirror_job,
                        layout.disk, guest.uuid)
            self._abort_job(device, 'unknown')
            return
        label = ('volume migration complete copy' if job_type == COPY
                 else 'volume migration commit')
        LOG.info('Reconciling: waiting for the %s job on disk %s of domain '
                 '%s', label, layout.disk, guest.uuid)
        try:
            self._mirror_and_pivot(guest, layout, migration, label,
                                   job_type)
        except lv_exc.BlockJobTimeout:
            LOG.warning('The %s job did not get ready; it was aborted',
                        label)
        except lv_exc.BlockJobFailed as e:
            LOG.warning('%s', e)

    # helpers

    def _mirror_and_pivot(self, guest, layout, migration, label, job_type,
                          start_job=None) -> None:
        """Start a mirror-type job (unless it runs already), wait, pivot.

        The waiter is created before ``start_job`` so that no READY event
        is missed; limits the throttle changed are restored in any case.
        """
        device = guest.get_block_device(layout.disk)
        throttle = blockjob.WriteThrottle(
            guest, layout.disk, CONF.libvirt.block_job_min_throttle_bytes_sec,
            save_original=lambda limits: migration.save_driver_data(
                saved_iotune=limits),
            original=(migration.driver_data or {}).get('saved_iotune'))
        waiter = blockjob.ReadyWaiter(
            device, label, job_type,
            timeout=CONF.libvirt.block_job_ready_timeout,
            progress_cb=migration.set_progress,
            bytes_cb=getattr(migration, 'set_job_bytes', None),
            throttle=throttle,
            window=CONF.libvirt.block_job_progress_window,
            progress_interval=CONF.compute.progress_update_interval)
        if start_job is not None:
            try:
                start_job(device)
            except libvirt.libvirtError as e:
                raise lv_exc.LibvirtCallFailed(
                    call='block job start (%s)' % label, domain=guest.uuid,
                    reason=e)
        try:
            waiter.wait()
            blockjob.pivot(device, label)
        finally:
            if throttle.active:
                throttle.restore()
                migration.save_driver_data(saved_iotune=None)

    def _abort_job(self, device, what: str) -> None:
        LOG.info('Aborting the %s block job on %s', what, device)
        try:
            device.abort_job()
        except libvirt.libvirtError as e:
            if device.get_job_info() is not None:
                raise lv_exc.LibvirtCallFailed(
                    call='blockJobAbort', domain=device.guest.uuid, reason=e)

    def _expect(self, guest, layout, expected: State) -> config.DiskSource:
        """The disk's live source, which must be in state ``expected``."""
        disk = guest.get_disk(layout.disk)
        state = layout.classify(disk.source, guest.uuid)
        if state is not expected:
            raise lv_exc.UnexpectedDiskChain(
                disk=layout.disk, domain=guest.uuid,
                actual=disk.source.describe(), expected=expected.value)
        return disk.source

    def _persist_live_disk(self, guest, layout,
                           live: config.DiskSource | None = None) -> None:
        """Make the persistent definition boot on the live chain.

        ``live`` is the live source if just read.
        """
        live = live or guest.get_disk(layout.disk).source
        persistent = guest.get_disk(layout.disk, dump_inactive=True)
        if (persistent.source is not None
                and persistent.source.chain() == live.chain()):
            return
        self._set_persistent(guest, layout, live, persistent)

    def _persistent_state(self, guest, layout) -> State:
        disk = guest.get_disk(layout.disk, dump_inactive=True)
        return layout.classify(disk.source, guest.uuid)

    def _set_persistent(self, guest, layout, source,
                        persistent: config.DiskState | None = None) -> None:
        """Replace the persistent <disk>; ``persistent`` if just read."""
        # updateDeviceFlags replaces the whole persistent <disk>: keep the
        # serial (the volume id the guest knows the disk by).
        persistent = persistent or guest.get_disk(layout.disk,
                                                  dump_inactive=True)
        serial = (persistent.serial
                  or (layout.migration.src_connection_info or {}).get(
                      'serial') or layout.migration.volume_id)
        guest.update_device(source.disk_xml(layout.device_name,
                                            serial=serial),
                            persistent=True)

    def _complete_offline(self, guest, layout) -> None:
        """Release src of a stopped domain (synchronous part)."""
        migration = layout.migration
        state = self._persistent_state(guest, layout)
        if state is State.ON_SRC:
            self._set_persistent(guest, layout, layout.dst)
        elif state is State.OVERLAY_ON_SRC:
            # Cinder guarantees dst holds src as of start: no data moves.
            migration.save_driver_data(step=STEP_COMPLETE_REBASE)
            overlay = layout.start_overlay.path
            images.rebase_unsafe(overlay, layout.dst.uri, layout.dst.format)
            self._set_persistent(guest, layout, config.DiskSource(
                'file', 'qcow2', path=overlay, backing=layout.dst))
        migration.save_driver_data(step=STEP_SWITCHED)

    def _finish_offline_commit(self, guest, layout) -> None:
        migration = layout.migration
        disk = guest.get_disk(layout.disk, dump_inactive=True)
        state = layout.classify(disk.source, guest.uuid)
        if state is State.SWITCHED_TO_DST:
            migration.save_driver_data(step=STEP_COMPLETE_OFFLINE_COMMIT)
            images.commit(disk.source.path)
            self._set_persistent(guest, layout, layout.dst, disk)
        self._cleanup(guest, layout, migration, STEP_COMPLETED)

    def _cancel_offline(self, guest, layout) -> None:
        migration = layout.migration
        disk = guest.get_disk(layout.disk, dump_inactive=True)
        state = layout.classify(disk.source, guest.uuid)
        if state is State.OVERLAY_ON_SRC:
            migration.save_driver_data(step=STEP_CANCEL_OFFLINE_COMMIT)
            images.commit(disk.source.path)
            self._set_persistent(guest, layout, layout.src, disk)
        elif state is not State.ON_SRC:
            self._refuse(migration, guest, 'cancel',
                         'the disk is already on %s' % state.value)
        self._cleanup(guest, layout, migration, STEP_CANCELLED)

    def _cleanup(self, guest, layout, migration, step: str) -> None:
        saved = (migration.driver_data or {}).get('saved_iotune')
        if saved and guest.is_active():
            blockjob.restore_limits(guest, layout.disk, saved)
        self._resume_if_paused_on_io_error(guest, migration)
        self._remove_unused_overlays(layout, guest)
        migration.save_driver_data(step=step, saved_iotune=None)
        migration.set_progress(100)

    @staticmethod
    def _resume_if_paused_on_io_error(guest, migration) -> None:
        """Resume a guest a full overlay directory paused.

        The overlays live on the compute host's file system: when it
        fills up, the guest's next write to an overlay fails with ENOSPC
        and QEMU pauses the guest, keeping the request to retry. Once the
        disk is on src or dst again, that retry has somewhere to go;
        leaving the guest paused would turn a full local disk into an
        outage nobody asked for. If the error was on the volume itself,
        QEMU pauses it again.
        """
        if guest.is_active() and guest.is_paused_on_io_error():
            LOG.warning('Volume migration of %s: domain %s was paused on a '
                        'disk I/O error (a full overlay directory?); its '
                        'disk is off the overlay now: resuming it',
                        migration.src_attachment_id, guest.uuid)
            guest.resume()

    def _remove_unused_overlays(self, layout, guest) -> None:
        """Remove overlays in neither the live nor the persistent chain."""
        in_use = set()
        for inactive in ((False, True) if guest.is_active() else (True,)):
            disk = guest.get_disk(layout.disk, dump_inactive=inactive)
            if disk.source is not None:
                in_use.update(layer.uri for layer in disk.source.chain())
            if disk.mirror is not None:
                in_use.update(layer.uri for layer in disk.mirror.chain())
        for path in layout.overlay_files:
            if path not in in_use and images.remove(path):
                LOG.info('Removed overlay %s', path)

    def _refuse(self, migration, guest, action: str, reason: str):
        raise lv_exc.VolumeMigrationStateError(
            attachment_id=migration.src_attachment_id, domain=guest.uuid,
            action=action, reason=reason)
