"""Instances and volumes: power, attach, detach on real libvirt."""

from __future__ import annotations

from nova_volmig.compute import power_state
from nova_volmig import exception
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc
from tests.functional.libvirt import base
from volmig_common import libvirt_teardown


class InstanceLifecycleTest(base.LibvirtFunctionalTestCase):

    def test_power_and_volumes(self):
        vol_b = self.make_volume('b', seed=1)
        vol_c = self.make_volume('c', seed=2)
        instance = self.spawn({base.DEVICE: vol_b})
        self.assertEqual(power_state.RUNNING,
                         self.driver.get_power_state(instance))
        guest = self.driver.host.get_guest(instance)
        dom = self.driver.host.lookup_domain(instance.uuid)
        self.assertEqual(instance.uuid, dom.UUIDString())
        self.assertIn("<target type='virtio'",
                      guest.get_xml_desc().replace('"', "'"))
        # hot-plug into the running domain, and persistent
        self.driver.attach_volume(None, vol_c.connection_info, instance,
                                  '/dev/vdc')
        for inactive in (False, True):
            disk = guest.get_disk('vdc', dump_inactive=inactive)
            self.assertEqual(vol_c.uri, disk.source.uri)
            self.assertEqual(config.volume_alias('/dev/vdc'), disk.alias)
        self.assertRaises(exception.VolumeAttachmentConflict,
                          self.driver.attach_volume, None,
                          vol_b.connection_info, instance, '/dev/vdc')
        # a diskless guest cannot answer the ACPI unplug: a clear error
        self.flags(group='libvirt', device_detach_timeout=1)
        err = self.assertRaises(lv_exc.DeviceDetachTimeout,
                                self.driver.detach_volume, None,
                                vol_c.connection_info, instance, '/dev/vdc')
        self.assertIn('vdc', str(err))
        self.assertFalse(guest.has_disk('vdc', dump_inactive=True))
        self.driver.power_off(None, instance)
        self.assertEqual(power_state.SHUTDOWN,
                         self.driver.get_power_state(instance))
        # cold attach and detach
        self.driver.attach_volume(None, vol_c.connection_info, instance,
                                  '/dev/vdc')
        self.assertTrue(guest.has_disk('vdc', dump_inactive=True))
        self.driver.detach_volume(None, vol_c.connection_info, instance,
                                  '/dev/vdc')
        self.assertFalse(guest.has_disk('vdc', dump_inactive=True))
        self.driver.power_on(None, instance, self.bdi({base.DEVICE: vol_b}))
        self.assertEqual(power_state.RUNNING,
                         self.driver.get_power_state(instance))
        self.driver.destroy(None, instance, [])
        self.assertFalse(self.driver.instance_exists(instance))

    def test_swap_refused_when_stopped(self):
        vol_b = self.make_volume('b')
        vol_c = self.make_volume('c', random_fill=False)
        instance = self.spawn({base.DEVICE: vol_b}, running=False)
        self.assertRaises(exception.VolumeSwapRefused,
                          self.driver.swap_volume, None,
                          vol_b.connection_info, vol_c.connection_info,
                          instance, base.DEVICE, lambda pct: None)

    def test_domain_removed_behind_the_driver_is_instance_not_found(self):
        vol_b = self.make_volume('b')
        instance = self.spawn({base.DEVICE: vol_b})
        guest = self.driver.host.get_guest(instance)
        self.assertTrue(guest.is_active())          # the handle is cached
        self.assertEqual({}, libvirt_teardown.remove_domains(
            [instance.uuid], self.driver.host.uri))
        self.assertRaises(exception.InstanceNotFound, guest.get_power_state)
        self.assertRaises(exception.InstanceNotFound,
                          self.driver.get_power_state, instance)
