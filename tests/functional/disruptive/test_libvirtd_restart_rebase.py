"""Invariant 5 across a libvirtd restart with ``complete_mode = rebase``.

The tests of ``test_libvirtd_restart`` (restart during the commit job,
restart between start and complete) run again in rebase mode, plus a
restart between the switch and the commit: libvirtd reloads a live XML
that still names src, and neither it nor the driver reopens src. Like
the other disruptive tests they restart the host's libvirtd: run them
serially, after all the others.
"""

from __future__ import annotations

from nova_volmig.virt.libvirt import rebase
from tests.functional.disruptive import test_libvirtd_restart
from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.libvirt import base


class RebaseLibvirtdRestartTest(test_libvirtd_restart.LibvirtdRestartTest):

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt', volume_migration_complete_mode='rebase')

    def test_restart_between_switch_and_commit(self):
        src = self.make_volume('src', seed=33)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(2)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        writer.write_some(3)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        self.assertEqual('rebase', migration.driver_data['complete_mode'])
        # dst is still under the switch's temporary node names: libvirt
        # reloads a status XML whose backing node names QEMU lacks.
        self.assertEqual(rebase.TMP_FORMAT,
                         self.overlay_backing_node(instance))
        test_libvirtd_restart.restart_libvirtd()
        self.assertQemuReleased(instance, src)
        writer.write_some(2)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        writer.write_some(2)
        self.assertEqual(src_at_start, src.sha256())
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertDiskOn(instance, dst)
        self.assertQemuReleased(instance, src)
        self.assertNoOverlays()
