"""Invariant 5: the driver SIGKILLed at each step boundary, then reconciled.

The driver runs in a child process (``fixtures.harness``) that pauses at a
step marker; the test kills it there, lets a fresh driver reconcile from
the persisted driver_data, finishes the migration with complete or cancel
and checks every byte by checksum and that no overlay is left behind.
Guest writes happen only while the child is paused or dead, so that none
races a job start or pivot (DESIGN 5).
"""

from __future__ import annotations

import os

from nova_volmig.virt import driver as virt_driver
from nova_volmig.virt.libvirt import driver as libvirt_driver
from nova_volmig.virt.libvirt import volume_migration
from tests.functional.fixtures import harness
from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.fixtures import migration as mig_fixtures
from tests.functional.libvirt import base

State = virt_driver.ReconcileState


class _CrashRecovery:

    def setUp(self):
        super().setUp()
        self.src = self.make_volume('src', seed=21)
        self.dst = self.make_volume('dst', random_fill=False)
        self.instance = self.spawn({base.DEVICE: self.src})
        self.writer = self.writer(self.instance, self.src)
        self.writer.write_some(3)
        self.state_file = self.state_file('migration.json')
        handle = self.handle(self.instance, self.src,
                             state_file=self.state_file)
        handle.save()
        workdir = self.state_file.rsplit('/', 1)[0]
        self.proc = harness.DriverProcess(
            self.state_file, self.instance, self._child_flags(), workdir)
        self.addCleanup(self.proc.kill)

    def _child_flags(self) -> dict[str, str]:
        lv = self.driver_conf
        return {'state_path': self.state_path,
                'libvirt.volume_migration_overlay_dir':
                    lv.volume_migration_overlay_dir,
                'libvirt.instances_path': lv.instances_path,
                'libvirt.volume_migration_complete_mode':
                    lv.volume_migration_complete_mode}

    def _handle(self):
        return mig_fixtures.FakeMigrationHandle.load(self.state_file)

    def _crash(self, action: str, pause_at=None, pause_in_job=None):
        self.proc.start(action, pause_at=pause_at, pause_in_job=pause_in_job)
        step = self.proc.wait_paused()
        self.proc.kill()
        return step

    def _reconcile(self, expected: State):
        fresh = libvirt_driver.LibvirtDriver()
        fresh.init_host('restarted')
        self.addCleanup(fresh.cleanup_host, 'restarted')
        handle = self._handle()
        state = fresh.volume_migration_reconcile(None, self.instance,
                                                 handle)
        self.assertEqual(expected, state)
        return handle

    def _started(self):
        self.proc.run('start')
        self.src_at_start = self.src.sha256()
        self.assertEqual(self.writer.sha256(), self.src_at_start)

    def _copy_and_set_dst(self):
        lv_fixtures.copy_volume(self.src.uri, self.dst.uri)
        handle = self._handle()
        handle.dst_connection_info = self.dst.connection_info
        handle.save()

    def _finish_complete(self):
        self.proc.run('complete_finish')
        self.writer.write_some(2)
        self.assertEqual(self.src_at_start, self.src.sha256())
        self.assertEqual(self.writer.sha256(), self.dst.sha256())
        self.assertDiskOn(self.instance, self.dst)
        self.assertQemuReleased(self.instance, self.src)
        self.assertNoOverlays()

    def _finish_cancel(self):
        self.proc.run('cancel_finish')
        self.writer.write_some(2)
        self.assertEqual(self.writer.sha256(), self.src.sha256())
        self.assertDiskOn(self.instance, self.src)
        self.assertNoOverlays()

    # start

    def test_killed_after_overlay_created(self):
        step = volume_migration.STEP_START_SNAPSHOT
        self.assertEqual(step, self._crash('start', pause_at=step))
        self.assertEqual(1, len(os.listdir(self.overlay_dir)))
        self.writer.write_some(2)
        self._reconcile(State.ON_SRC)
        self.assertNoOverlays()
        self.src_at_start = self.src.sha256()
        self.assertEqual(self.writer.sha256(), self.src_at_start)
        # The lost start is retried, then completed.
        self._started()
        self.writer.write_some(2)
        self._copy_and_set_dst()
        self.proc.run('complete')
        self._finish_complete()

    def test_killed_after_snapshot_then_complete(self):
        self._crash('start', pause_at=volume_migration.STEP_STARTED)
        self.src_at_start = self.src.sha256()
        self.writer.write_some(2)
        self._reconcile(State.OVERLAY_ON_SRC)
        self.assertEqual(self.src_at_start, self.src.sha256())
        self._copy_and_set_dst()
        self.proc.run('complete')
        self._finish_complete()

    def test_killed_after_snapshot_then_cancel(self):
        self._crash('start', pause_at=volume_migration.STEP_STARTED)
        self.writer.write_some(2)
        self._reconcile(State.OVERLAY_ON_SRC)
        self._finish_cancel()

    # complete

    def test_killed_during_complete_copy(self):
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self._crash('complete',
                    pause_in_job=volume_migration.STEP_COMPLETE_COPY)
        self.writer.write_some(2)
        self._reconcile(State.SWITCHED_TO_DST)
        self.assertQemuReleased(self.instance, self.src)
        self._finish_complete()

    def test_killed_after_complete_pivot(self):
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self._crash('complete', pause_at=volume_migration.STEP_SWITCHED)
        self.assertQemuReleased(self.instance, self.src)
        self.writer.write_some(2)
        self._reconcile(State.SWITCHED_TO_DST)
        self._finish_complete()

    def test_killed_during_commit_job(self):
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self.proc.run('complete')
        self.writer.write_some(2)
        self._crash('complete_finish',
                    pause_in_job=volume_migration.STEP_COMPLETE_COMMIT)
        self.writer.write_some(2)
        self._reconcile(State.ON_DST)
        self._finish_complete()

    def test_killed_after_commit_pivot(self):
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self.proc.run('complete')
        self._crash('complete_finish',
                    pause_at=volume_migration.STEP_COMPLETE_COMMITTED)
        self.writer.write_some(2)
        self._reconcile(State.ON_DST)
        self._finish_complete()

    # cancel

    def test_killed_during_cancel_commit_job(self):
        self._started()
        self.writer.write_some(4)
        self.proc.run('cancel')
        self._crash('cancel_finish',
                    pause_in_job=volume_migration.STEP_CANCEL_COMMIT)
        self.writer.write_some(2)
        self._reconcile(State.ON_SRC)
        self._finish_cancel()

    def test_killed_after_cancel_pivot(self):
        self._started()
        self.writer.write_some(4)
        self._crash('cancel_finish',
                    pause_at=volume_migration.STEP_CANCEL_COMMITTED)
        self.writer.write_some(2)
        self._reconcile(State.ON_SRC)
        self._finish_cancel()


class FileCrashRecoveryTest(_CrashRecovery, base.LibvirtFunctionalTestCase):
    volume_kind = 'file'


class NBDCrashRecoveryTest(_CrashRecovery, base.LibvirtFunctionalTestCase):
    volume_kind = 'nbd'
