"""DESIGN 6 invariants 1-4 and 6 on real QEMU, for file, nbd and block.

Guest writes land before start, between start and the copy, during the
complete copy and while the asynchronous finish (commit) runs; the
expected content is modelled write by write and compared by checksum.
"""

from __future__ import annotations

import os

from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.libvirt import base


class _MigrationMatrix:
    """Running and shut-off instance x complete and cancel."""

    def _started(self, running: bool = True):
        src = self.make_volume('src', seed=11)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(3)                       # before start
        if not running:
            self.driver.power_off(None, instance)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        self.assertEqual(writer.sha256(), src_at_start)
        return src, dst, instance, writer, migration, src_at_start

    def test_running_complete(self):
        src, dst, instance, writer, migration, src_at_start = self._started()
        writer.write_some(3)                       # between start and copy
        self.assertEqual(src_at_start, src.sha256())           # 1
        lv_fixtures.copy_volume(                   # Cinder's copy, with
            src.uri, dst.uri,                      # writes in mid-copy
            between=lambda: writer.write_some(2))
        self.assertEqual(src_at_start, src.sha256())           # 1
        migration.dst_connection_info = dst.connection_info
        writer.start()                  # across complete and its finish
        self.driver.volume_migration_complete(None, instance, migration)
        self.assertQemuReleased(instance, src)                 # 4
        self.assertQemuUses(instance, dst)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        self.assertGreater(writer.stop(), 6)
        writer.write_some(2)                       # after the finish
        self.assertEqual(src_at_start, src.sha256())           # 1
        self.assertEqual(writer.sha256(), dst.sha256())        # 2
        self.assertDiskOn(instance, dst)
        self.assertQemuReleased(instance, src)
        self.assertNoOverlays()
        self.assertEqual('completed', migration.driver_data['step'])

    def test_running_cancel(self):
        src, dst, instance, writer, migration, src_at_start = self._started()
        writer.write_some(3)
        lv_fixtures.copy_volume(src.uri, dst.uri,
                                between=lambda: writer.write_some(2))
        writer.write_some(2)
        self.assertEqual(src_at_start, src.sha256())           # 1
        self.driver.volume_migration_cancel(None, instance, migration)
        writer.start()
        self.driver.volume_migration_cancel_finish(None, instance,
                                                   migration)
        writer.stop()
        writer.write_some(2)
        self.assertEqual(writer.sha256(), src.sha256())        # 3
        self.assertDiskOn(instance, src)
        self.assertNoOverlays()
        self.assertEqual('cancelled', migration.driver_data['step'])

    def test_shutoff_complete(self):
        src, dst, instance, writer, migration, src_at_start = \
            self._started(running=False)
        self.assertNoOverlays()                    # start changed nothing
        self.assertEqual(src.uri, self.disk_source(instance, True).uri)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        self.assertEqual(dst.uri, self.disk_source(instance, True).uri)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        self.driver.power_on(None, instance, self.bdi({base.DEVICE: dst}))
        self.assertDiskOn(instance, dst)
        writer.write_some(3)
        self.assertEqual(writer.sha256(), dst.sha256())        # 2, 6
        self.assertEqual(src_at_start, src.sha256())           # 1, 6
        self.assertNoOverlays()

    def test_shutoff_cancel(self):
        src, dst, instance, writer, migration, src_at_start = \
            self._started(running=False)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        self.driver.volume_migration_cancel(None, instance, migration)
        self.driver.volume_migration_cancel_finish(None, instance,
                                                   migration)
        self.assertEqual(src_at_start, src.sha256())           # 3, 6
        self.driver.power_on(None, instance, self.bdi({base.DEVICE: src}))
        self.assertDiskOn(instance, src)
        writer.write_some(2)
        self.assertEqual(writer.sha256(), src.sha256())
        self.assertNoOverlays()

    def test_went_off_on_overlay_complete(self):
        """Stopped while on the overlay: finished offline with qemu-img."""
        src, dst, instance, writer, migration, src_at_start = self._started()
        writer.write_some(4)
        self.driver.power_off(None, instance)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        overlay = migration.driver_data['start_overlay']
        self.assertTrue(os.path.exists(overlay))
        self.assertNotIn(src.uri, [
            layer.uri for layer in
            self.disk_source(instance, inactive=True).chain()])  # 4
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        self.assertEqual(src_at_start, src.sha256())
        self.assertEqual(writer.sha256(), dst.sha256())
        self.driver.power_on(None, instance, self.bdi({base.DEVICE: dst}))
        self.assertDiskOn(instance, dst)
        self.assertNoOverlays()

    def test_went_off_on_overlay_cancel(self):
        src, dst, instance, writer, migration, src_at_start = self._started()
        writer.write_some(4)
        self.driver.power_off(None, instance)
        self.assertEqual(src_at_start, src.sha256())
        self.driver.volume_migration_cancel(None, instance, migration)
        self.driver.volume_migration_cancel_finish(None, instance,
                                                   migration)
        self.assertEqual(writer.sha256(), src.sha256())
        self.driver.power_on(None, instance, self.bdi({base.DEVICE: src}))
        self.assertDiskOn(instance, src)
        self.assertNoOverlays()


class FileVolumeMigrationTest(_MigrationMatrix,
                              base.LibvirtFunctionalTestCase):
    volume_kind = 'file'


class NBDVolumeMigrationTest(_MigrationMatrix,
                             base.LibvirtFunctionalTestCase):
    volume_kind = 'nbd'


class BlockVolumeMigrationTest(_MigrationMatrix,
                               base.LibvirtFunctionalTestCase):
    volume_kind = 'block'


class WriteBlockingFileTest(base.LibvirtFunctionalTestCase):
    """``write_blocking`` complete: one copy straight onto dst."""

    volume_kind = 'file'

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt',
                   volume_migration_complete_mode='write_blocking')

    test_running_complete = _MigrationMatrix.test_running_complete
    _started = _MigrationMatrix._started


class WriteBlockingNBDTest(WriteBlockingFileTest):
    volume_kind = 'nbd'
