"""Server delete during a volume migration, on real QEMU.

reliability.rst, "The start overlay outlives its server": the compute
manager puts the writes back on src (cancel's driver calls) and then
destroys the domain; destroy removes the instance's overlays whatever
happened before.
"""

from __future__ import annotations

from tests.functional.libvirt import base


class ServerDeleteTest(base.LibvirtFunctionalTestCase):

    def _started(self):
        src = self.make_volume('src', seed=21)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(2)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        writer.write_some(3)                       # into the start overlay
        return src, instance, writer, migration

    def test_delete_puts_writes_back_and_removes_overlays(self):
        src, instance, writer, migration = self._started()
        # What terminate_instance does for a running migration.
        self.driver.volume_migration_cancel(None, instance, migration)
        self.driver.volume_migration_cancel_finish(None, instance, migration)
        self.driver.destroy(None, instance, [])
        self.assertFalse(self.driver.instance_exists(instance))
        self.assertEqual(writer.sha256(), src.sha256())
        self.assertNoOverlays()

    def test_destroy_on_the_start_overlay_removes_it(self):
        src, instance, writer, migration = self._started()
        self.driver.destroy(None, instance, [])
        self.assertFalse(self.driver.instance_exists(instance))
        self.assertNoOverlays()
