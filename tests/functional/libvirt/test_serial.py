"""Volume disks carry ``<serial>`` = the volume id, across every migration.

As upstream Nova (``LibvirtConfigGuestDisk.serial`` from the BDM's volume
id), a guest finds its volume as ``/dev/disk/by-id/virtio-<volume id>``.
The serial is a property of the guest's device, so it must be in the live
XML, in the persistent XML (``updateDeviceFlags`` replaces the whole
``<disk>``) and on QEMU's virtio-blk device after each kind of migration:
the new flow's start, complete in each mode and its asynchronous finish,
cancel, legacy swap and the shut-off complete.
"""

from __future__ import annotations

import json
import uuid

import libvirt_qemu

from nova_volmig.virt.libvirt import config
from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.fixtures import migration as mig_fixtures
from tests.functional.libvirt import base


class VolumeSerialTest(base.LibvirtFunctionalTestCase):

    volume_size = 8 * base.MiB

    def setUp(self):
        super().setUp()
        self.volume_id = str(uuid.uuid4())

    def _ci(self, volume: base.TestVolume) -> dict:
        """connection_info as the compute manager keeps it in the BDM."""
        return dict(volume.connection_info, serial=self.volume_id)

    def _spawn(self, src, running: bool = True):
        instance = lv_fixtures.new_instance()
        self.useFixture(lv_fixtures.InstanceCleanup(self.driver.host.uri,
                                                    instance))
        self.driver.spawn(None, instance, [{
            'connection_info': self._ci(src), 'device_name': base.DEVICE,
            'volume_id': self.volume_id}])
        if not running:
            self.driver.power_off(None, instance)
        return instance

    def _migration(self, instance, src):
        return mig_fixtures.FakeMigrationHandle(
            instance.uuid, self._ci(src), device_name=base.DEVICE,
            volume_id=self.volume_id)

    def qemu_serial(self, instance) -> str:
        """The ``serial`` property of QEMU's virtio-blk device (QMP)."""
        dom = self.driver.host.lookup_domain(instance.uuid)
        out = libvirt_qemu.qemuMonitorCommand(dom, json.dumps({
            'execute': 'qom-get', 'arguments': {
                'path': config.qdev_backend_path(base.DEVICE),
                'property': 'serial'}}), 0)
        return json.loads(out)['return']

    def assertSerial(self, instance, what: str, live: bool = True) -> None:
        guest = self.driver.host.get_guest(instance)
        target = config.target_dev(base.DEVICE)
        self.assertEqual(self.volume_id, guest.get_disk(
            target, dump_inactive=True).serial, 'persistent XML ' + what)
        if live:
            self.assertEqual(self.volume_id, guest.get_disk(target).serial,
                             'live XML ' + what)
            self.assertEqual(self.volume_id, self.qemu_serial(instance),
                             'QEMU device ' + what)

    def _new_flow(self, mode: str | None = None, cancel: bool = False):
        if mode:
            self.flags(group='libvirt', volume_migration_complete_mode=mode)
        src = self.make_volume('src', seed=2)
        dst = self.make_volume('dst', random_fill=False)
        instance = self._spawn(src)
        self.assertSerial(instance, 'after spawn')
        migration = self._migration(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        self.assertSerial(instance, 'after start')
        lv_fixtures.copy_volume(src.uri, dst.uri)
        if cancel:
            self.driver.volume_migration_cancel(None, instance, migration)
            self.driver.volume_migration_cancel_finish(None, instance,
                                                       migration)
            self.assertDiskOn(instance, src)
            self.assertSerial(instance, 'after cancel')
            return instance, dst
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        self.assertSerial(instance, 'after complete (%s)' % mode)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        self.assertDiskOn(instance, dst)
        self.assertSerial(instance, 'after the finish of complete')
        return instance, dst

    def test_two_step_complete(self):
        instance, dst = self._new_flow('two_step')
        # A hard reboot redefines the domain from the BDM, now on dst.
        self.driver.power_off(None, instance)
        self.driver.power_on(None, instance, [{
            'connection_info': dst.connection_info,
            'device_name': base.DEVICE, 'volume_id': self.volume_id}])
        self.assertSerial(instance, 'after a hard reboot')

    def test_write_blocking_complete(self):
        self._new_flow('write_blocking')

    def test_cancel(self):
        self._new_flow(cancel=True)

    def test_legacy_swap(self):
        src = self.make_volume('src', seed=3)
        dst = self.make_volume('dst', random_fill=False)
        instance = self._spawn(src)
        self.driver.swap_volume(None, self._ci(src), dst.connection_info,
                                instance, base.DEVICE, lambda pct: None)
        self.assertDiskOn(instance, dst)
        self.assertSerial(instance, 'after a legacy swap')

    def test_shut_off_complete(self):
        src = self.make_volume('src', seed=4)
        dst = self.make_volume('dst', random_fill=False)
        instance = self._spawn(src, running=False)
        self.assertSerial(instance, 'shut off', live=False)
        migration = self._migration(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        self.assertSerial(instance, 'after a shut-off complete', live=False)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        self.assertEqual(dst.uri, self.disk_source(instance, True).uri)
        self.assertSerial(instance, 'after the finish', live=False)

    def test_went_off_on_overlay_complete(self):
        """Stopped on the overlay: rebased, committed, still the serial."""
        src = self.make_volume('src', seed=5)
        dst = self.make_volume('dst', random_fill=False)
        instance = self._spawn(src)
        migration = self._migration(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        self.driver.power_off(None, instance)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        self.assertSerial(instance, 'after an offline rebase', live=False)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        self.assertSerial(instance, 'after an offline commit', live=False)
        # and the guest boots with it
        self.driver.power_on(None, instance, [{
            'connection_info': dst.connection_info,
            'device_name': base.DEVICE, 'volume_id': self.volume_id}])
        self.assertSerial(instance, 'booted on dst')
