"""``complete_mode = rebase`` on real QEMU: invariants and later operations.

Guest writes land before start, during Cinder's copy, right after the
switch (complete returned), during the commit and after the pivot; the
expected content is modelled write by write and compared by checksum.
After the switch libvirt's live XML still names src: the later
operations (a second migration and its cancel, legacy swap, detach,
power off and on, a compute restart) are checked against QEMU's open
files, never against that XML.
"""

from __future__ import annotations

import os

from nova_volmig.virt.libvirt import blockdev
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import driver as libvirt_driver
from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.libvirt import base
from tests.functional.libvirt import test_volume_migration


class _Rebase:

    #: what complete does; block volumes fall back (see BlockRebaseTest)
    expect_fallback = None

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt', volume_migration_complete_mode='rebase')

    def _xml_names(self, instance, volume) -> bool:
        xml = self.driver.host.get_guest(instance).get_xml_desc()
        return (volume.export.name if volume.export else volume.uri) in xml

    def _migrate(self, instance, writer, src, dst, complete=True):
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        self.assertEqual(writer.sha256(), src_at_start)
        lv_fixtures.copy_volume(src.uri, dst.uri,          # Cinder's copy
                                between=lambda: writer.write_some(2))
        self.assertEqual(src_at_start, src.sha256())               # 1
        if not complete:
            self.driver.volume_migration_cancel(None, instance, migration)
            self.driver.volume_migration_cancel_finish(None, instance,
                                                       migration)
            return migration
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        if self.expect_fallback:
            self.assertEqual('two_step',
                             migration.driver_data['complete_mode'])
            self.assertIn(self.expect_fallback,
                          migration.driver_data['rebase_fallback'])
            # Nothing half-switched: no temporary node is left in QEMU.
            nodes = blockdev.QemuMonitor(self.driver.host.get_guest(
                instance)).query_named_block_nodes()
            self.assertEqual([], [n.node_name for n in nodes
                                  if n.node_name.startswith('volmig-')])
        else:
            self.assertEqual('rebase',
                             migration.driver_data['complete_mode'])
            self.assertNotIn('rebase_fallback', migration.driver_data)
            # Until the finish's pivot libvirt's XML names src: marked.
            self.assertTrue(self._xml_names(instance, src))
            self.assertTrue(self._marked(instance))
        self.assertQemuReleased(instance, src)                     # 4
        self.assertQemuUses(instance, dst)
        writer.write_some(2)                       # right after the switch
        writer.start()                             # during the commit
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        writer.stop()
        writer.write_some(2)                       # after the pivot
        self.assertEqual(src_at_start, src.sha256())               # 1
        self.assertEqual(writer.sha256(), dst.sha256())            # 2
        self.assertQemuReleased(instance, src)
        self.assertDiskOn(instance, dst)
        self.assertNoOverlays()
        self.assertEqual('completed', migration.driver_data['step'])
        # The pivot made libvirt's view true again.
        self.assertFalse(self._xml_names(instance, src))
        self.assertTrue(self._xml_names(instance, dst))
        self.assertFalse(self._marked(instance))
        return migration

    def _marked(self, instance) -> bool:
        xml = self.driver.host.get_guest(instance).get_xml_desc()
        return config.target_dev(base.DEVICE) in config.rebased_targets(xml)

    def test_running_complete(self):
        src = self.make_volume('src', seed=11)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(3)                       # before start
        self._migrate(instance, writer, src, dst)

    def test_running_cancel_after_rebase_start(self):
        src = self.make_volume('src', seed=12)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(3)
        self._migrate(instance, writer, src, dst, complete=False)
        writer.write_some(2)
        self.assertEqual(writer.sha256(), src.sha256())            # 3
        self.assertDiskOn(instance, src)
        self.assertNoOverlays()

    def test_later_operations_act_on_dst(self):
        """Each later operation acts on the volume QEMU really has.

        Second migration (cancel, then complete), swap, restart, power off
        and on, detach: none reopens an earlier volume.
        """
        vol = [self.make_volume('v0', seed=13)] + [
            self.make_volume('v%d' % i, random_fill=False)
            for i in (1, 2, 3)]
        instance = self.spawn({base.DEVICE: vol[0]})
        writer = self.writer(instance, vol[0])
        writer.write_some(3)
        self._migrate(instance, writer, vol[0], vol[1])
        # A second migration of the same volume, cancelled...
        self._migrate(instance, writer, vol[1], vol[2], complete=False)
        self.assertQemuReleased(instance, vol[0])
        self.assertQemuUses(instance, vol[1])
        self.assertEqual(writer.sha256(), vol[1].sha256())
        # ...and again, completed.
        self._migrate(instance, writer, vol[1], vol[2])
        for old in vol[:2]:
            self.assertQemuReleased(instance, old)
        # A compute restart sees the disk where QEMU has it.
        fresh = libvirt_driver.LibvirtDriver()
        fresh.init_host('restarted')
        self.addCleanup(fresh.cleanup_host, 'restarted')
        self.assertEqual(vol[2].uri, fresh.host.get_guest(instance).get_disk(
            config.target_dev(base.DEVICE)).source.uri)
        # Legacy swap from the volume QEMU really has.
        self.driver.swap_volume(None, vol[2].connection_info,
                                vol[3].connection_info, instance,
                                base.DEVICE, lambda pct: None)
        writer.write_some(2)
        self.assertEqual(writer.sha256(), vol[3].sha256())
        for old in vol[:3]:
            self.assertQemuReleased(instance, old)
        self.assertDiskOn(instance, vol[3])
        # Power off and on (as a hard reboot: from the persistent
        # definition, which names the current volume).
        self.assertEqual(vol[3].uri, self.disk_source(instance, True).uri)
        self.driver.power_off(None, instance)
        self.driver.power_on(None, instance, self.bdi({base.DEVICE: vol[3]}))
        self.assertQemuUses(instance, vol[3])
        for old in vol[:3]:
            self.assertQemuReleased(instance, old)
        writer.write_some(2)
        self.assertEqual(writer.sha256(), vol[3].sha256())
        self._detach(instance, vol[3], vol)

    def _detach(self, instance, volume, volumes):
        """Detach (stopped: live unplug needs a guest OS), boot again."""
        self.driver.power_off(None, instance)
        self.driver.detach_volume(None, volume.connection_info, instance,
                                  base.DEVICE)
        guest = self.driver.host.get_guest(instance)
        self.assertFalse(guest.has_disk(config.target_dev(base.DEVICE),
                                        dump_inactive=True))
        guest.launch()
        for v in volumes:
            self.assertQemuReleased(instance, v)

    def test_detach_after_rebase(self):
        """Detach straight after a rebase complete releases dst."""
        src = self.make_volume('src', seed=14)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        self._migrate(instance, writer, src, dst)
        self.assertEqual(dst.uri, self.disk_source(instance, True).uri)
        self._detach(instance, dst, [src, dst])
        self.assertEqual(writer.sha256(), dst.sha256())

    def test_hard_reboot_after_switch_boots_on_overlay_over_dst(self):
        """Stopped between complete and its finish: src never reopens."""
        src = self.make_volume('src', seed=15)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(3)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        writer.write_some(2)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        writer.write_some(2)
        persistent = self.disk_source(instance, inactive=True)
        self.assertEqual(dst.uri, persistent.backing.uri)
        guest = self.driver.host.get_guest(instance)
        guest.poweroff()
        guest.launch()                             # the persistent chain
        self.assertQemuReleased(instance, src)
        self.assertQemuUses(instance, dst)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        writer.write_some(2)
        self.assertEqual(src_at_start, src.sha256())
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertDiskOn(instance, dst)
        self.assertNoOverlays()


class FileRebaseTest(_Rebase, base.LibvirtFunctionalTestCase):
    """File volumes fall back to two_step, on real QEMU.

    After a switch libvirt's XML still names src, and libvirt stats and
    relabels a local file's path when it starts the commit: with src
    deleted by Cinder once complete returned, the commit failed and the
    guest's writes stayed on the overlay (the bench found it).
    """

    volume_kind = 'file'
    expect_fallback = 'local file'

    def test_src_deleted_once_complete_returns(self):
        src = self.make_volume('src', seed=14)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(3)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        lv_fixtures.copy_volume(src.uri, dst.uri,
                                between=lambda: writer.write_some(2))
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        # Cinder deletes src now; its path is gone (kept aside to check).
        aside = src.uri + '.deleted'
        os.rename(src.uri, aside)
        writer.write_some(2)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        writer.write_some(2)
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertDiskOn(instance, dst)
        self.assertNoOverlays()
        os.rename(aside, src.uri)
        self.assertEqual(src_at_start, src.sha256())


class NBDRebaseTest(_Rebase, base.LibvirtFunctionalTestCase):
    volume_kind = 'nbd'

    def test_finish_moves_only_what_the_guest_wrote(self):
        """The copy into dst moves 4 KiB blocks, not 64 KiB chunks.

        Eight 4 KiB writes, each in its own 64 KiB chunk: the finish's
        block job, once in sync, has moved exactly those 32 KiB
        (libvirt's active commit moved the eight whole chunks, 512 KiB,
        reading the rest of each from dst).
        """
        src = self.make_volume('src', seed=16)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        migration = self.handle(instance, src)
        job_bytes = []
        migration.set_job_bytes = lambda done, total: job_bytes.append(
            (done, total))
        self.driver.volume_migration_start(None, instance, migration)
        for chunk in range(8):
            writer.write(offset=(2 * chunk + 1) * 64 * 1024 + 4096,
                         length=4096)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertEqual(8 * 4096, job_bytes[-1][1])   # (cur, end)


class BlockRebaseTest(_Rebase, base.LibvirtFunctionalTestCase):
    """Block volumes fall back to two_step, on real QEMU.

    As file volumes (libvirt relabels the path its XML names); besides,
    libvirt runs QEMU in a private mount namespace whose /dev holds only
    the devices libvirt set up, so ``blockdev-add`` of dst's device would
    fail: the migration completes ``two_step``, says why in driver_data,
    and every invariant holds.
    """

    volume_kind = 'block'
    expect_fallback = 'local block'


class FileRebaseModeMatrixTest(test_volume_migration._MigrationMatrix,
                               base.LibvirtFunctionalTestCase):
    """The whole running/shut-off matrix with rebase configured.

    Shut-off instances and a domain that went off on its overlay behave
    as in the other modes (the mode only changes a running complete).
    """

    volume_kind = 'file'

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt', volume_migration_complete_mode='rebase')
