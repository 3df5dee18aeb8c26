"""Legacy swap, a block job that never gets ready, and start failures."""

from __future__ import annotations

import os
import shutil
import subprocess

from nova_volmig import exception
from nova_volmig.virt import driver as virt_driver
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import volume_migration
from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.libvirt import base


class _SwapVolume:

    def test_swap_volume_running(self):
        src = self.make_volume('src', seed=5)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(3)
        progress = []
        writer.start()
        self.driver.swap_volume(None, src.connection_info,
                                dst.connection_info, instance, base.DEVICE,
                                progress.append)
        writer.stop()
        writer.write_some(2)
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertDiskOn(instance, dst)
        self.assertQemuReleased(instance, src)
        self.assertEqual(100, progress[-1])


class FileSwapVolumeTest(_SwapVolume, base.LibvirtFunctionalTestCase):
    volume_kind = 'file'


class NBDSwapVolumeTest(_SwapVolume, base.LibvirtFunctionalTestCase):
    volume_kind = 'nbd'


class BlockJobNeverReadyTest(base.LibvirtFunctionalTestCase):
    """A copy over a 1 MiB/s link with a 3 s timeout: a clean error."""

    volume_kind = 'nbd'
    volume_size = 16 * base.MiB

    def _slow_migration(self, mode: str):
        self.flags(group='libvirt', block_job_ready_timeout=3,
                   volume_migration_complete_mode=mode)
        src = self.make_volume('src', seed=3)
        dst = self.make_volume('dst', random_fill=False,
                               link_bytes_per_sec=1024 * 1024)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        # 8 MiB of new data must cross the 1 MiB/s link.
        for i in range(8):
            writer.write(offset=i * base.MiB, length=base.MiB)
        # Cinder's copy, off the slow link.
        lv_fixtures.copy_file_in_place(src.path, dst.path)
        migration.dst_connection_info = dst.connection_info
        return src, dst, instance, writer, migration, src_at_start

    def test_write_blocking_copy_times_out(self):
        src, dst, instance, writer, migration, src_at_start = \
            self._slow_migration('write_blocking')
        err = self.assertRaises(
            lv_exc.BlockJobTimeout, self.driver.volume_migration_complete,
            None, instance, migration)
        for words in ('copy', 'vdb', instance.uuid, '3 s'):
            self.assertIn(words, str(err))
        # The guest is still on its overlay over src, and writes.
        self.assertEqual(virt_driver.ReconcileState.OVERLAY_ON_SRC,
                         self.driver.volume_migration_reconcile(
                             None, instance, migration))
        self.assertIsNone(self.driver.host.get_guest(instance)
                          .get_block_device('vdb').get_job_info())
        writer.write_some(3)
        self.assertEqual(src_at_start, src.sha256())
        self.driver.volume_migration_cancel_finish(None, instance,
                                                   migration)
        self.assertEqual(writer.sha256(), src.sha256())
        self.assertDiskOn(instance, src)
        self.assertNoOverlays()

    def test_two_step_commit_times_out(self):
        src, dst, instance, writer, migration, src_at_start = \
            self._slow_migration('two_step')
        self.driver.volume_migration_complete(None, instance, migration)
        self.assertQemuReleased(instance, src)
        err = self.assertRaises(
            lv_exc.BlockJobTimeout,
            self.driver.volume_migration_complete_finish, None, instance,
            migration)
        self.assertIn('commit', str(err))
        self.assertEqual(virt_driver.ReconcileState.SWITCHED_TO_DST,
                         self.driver.volume_migration_reconcile(
                             None, instance, migration))
        writer.write_some(3)
        # With time enough, the finish then succeeds.
        self.flags(group='libvirt', block_job_ready_timeout=120)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertEqual(src_at_start, src.sha256())
        self.assertDiskOn(instance, dst)
        self.assertNoOverlays()


class StartFailureTest(base.LibvirtFunctionalTestCase):
    """ENOSPC or no overlay directory: a clean fault, src untouched."""

    def _check_untouched(self, instance, src, writer, src_before):
        self.assertEqual(src_before, src.sha256())
        self.assertDiskOn(instance, src)
        writer.write_some(2)                       # the instance is usable
        self.assertEqual(writer.sha256(), src.sha256())
        self.assertEqual([], os.listdir(self.overlay_dir)
                         if os.path.isdir(self.overlay_dir) else [])

    def test_missing_overlay_dir(self):
        src = self.make_volume('src')
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        shutil.rmtree(self.overlay_dir)
        migration = self.handle(instance, src)
        err = self.assertRaises(
            lv_exc.OverlayDirUnavailable,
            self.driver.volume_migration_start, None, instance, migration)
        self.assertEqual(500, err.code)
        self.assertIn(self.overlay_dir, str(err))
        self._check_untouched(instance, src, writer, src.sha256())

    def test_no_space_for_overlay(self):
        src = self.make_volume('src')
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        mount = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=32k',
                                'volmig-enospc', self.overlay_dir],
                               capture_output=True, text=True)
        if mount.returncode:
            self.fail('cannot mount a tiny tmpfs: %s' % mount.stderr)
        self.addCleanup(subprocess.run, ['umount', self.overlay_dir],
                        capture_output=True)
        migration = self.handle(instance, src)
        err = self.assertRaises(
            lv_exc.OverlayNoSpace, self.driver.volume_migration_start,
            None, instance, migration)
        self.assertIsInstance(err, exception.Conflict)
        self.assertEqual(409, err.code)
        self.assertIn('No space left', str(err))
        self.assertEqual(volume_migration.STEP_START_FAILED,
                         migration.driver_data['step'])
        self._check_untouched(instance, src, writer, src.sha256())
