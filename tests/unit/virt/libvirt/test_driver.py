import dataclasses
import os
import types

from nova_volmig import exception
from nova_volmig.virt import driver as virt_driver
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import driver as libvirt_driver
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import host as libvirt_host
from nova_volmig.virt.libvirt import volume_migration
from tests import base
from tests.functional.fixtures import migration as mig_fixtures

State = virt_driver.ReconcileState
FILE = {'driver_volume_type': 'file',
        'data': {'device_path': '/v/src.raw', 'format': 'raw'}}
DST = {'driver_volume_type': 'nbd',
       'data': {'host': '127.0.0.1', 'port': 10900, 'export': 'volume-d'}}


class DriverTest(base.TestCase):

    def test_capabilities(self):
        self.assertEqual({'supports_live_volume_migration': True,
                          'supports_swap_volume': True},
                         libvirt_driver.LibvirtDriver.capabilities)

    def test_detect_virt_type(self):
        kvm = self.state_file('kvm')
        pvm = self.state_file('kvm_pvm')
        self.assertEqual('qemu', libvirt_driver.detect_virt_type(kvm, pvm))
        open(kvm, 'w').close()
        self.assertEqual('kvm', libvirt_driver.detect_virt_type(kvm, pvm))
        os.mkdir(pvm)
        self.assertEqual('qemu', libvirt_driver.detect_virt_type(kvm, pvm))

    def test_virt_type_option(self):
        self.flags(group='libvirt', virt_type='kvm')
        self.assertEqual('kvm', libvirt_driver.virt_type())

    def test_kernel_boot_stays_under_images_path(self):
        images = self.state_file('images')
        self.flags(group='libvirt', images_path=images)
        # A kernel outside images_path, reachable by "../" or an
        # absolute path (issue 16: imageRef path traversal).
        outside = self.state_file('elsewhere')
        os.makedirs(outside)
        open(os.path.join(outside, 'kernel'), 'w').close()
        os.makedirs(os.path.join(images, 'good'))
        open(os.path.join(images, 'good', 'kernel'), 'w').close()
        drv = libvirt_driver.LibvirtDriver(host=object())
        for ref in ('../elsewhere', outside, 'good/../../elsewhere', '.',
                    '..'):
            self.assertRaises(
                exception.InvalidInput, drv._kernel_boot,
                types.SimpleNamespace(image_ref=ref))
        boot = drv._kernel_boot(types.SimpleNamespace(image_ref='good'))
        self.assertEqual(os.path.join(images, 'good', 'kernel'), boot.kernel)

    def test_destroy_removes_the_instance_overlays(self):
        # reliability.rst, "The start overlay outlives its server".
        overlay_dir = self.state_file('overlays')
        os.makedirs(overlay_dir)
        self.flags(group='libvirt', volume_migration_overlay_dir=overlay_dir,
                   instances_path=self.state_file('instances'))
        mine = volume_migration.overlay_paths('inst-1', 'att-1')
        other = volume_migration.overlay_paths('inst-2', 'att-2')[0]
        for path in mine + (other,):
            open(path, 'w').close()
        host = types.SimpleNamespace(get_guest=self._no_guest)
        drv = libvirt_driver.LibvirtDriver(host=host)
        drv.destroy(None, types.SimpleNamespace(uuid='inst-1'), [])
        self.assertEqual([os.path.basename(other)],
                         sorted(os.listdir(overlay_dir)))

    @staticmethod
    def _no_guest(instance):
        raise exception.InstanceNotFound(instance_id=instance.uuid)


class LayoutTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.migration = mig_fixtures.FakeMigrationHandle(
            'inst-1', FILE, dst_connection_info=DST,
            src_attachment_id='att-1')
        self.layout = volume_migration._Layout(self.migration)

    def test_overlay_names(self):
        ov1, ov2 = volume_migration.overlay_paths('inst-1', 'att-1')
        overlay_dir = self.conf.conf.libvirt.volume_migration_overlay_dir
        self.assertEqual(os.path.join(overlay_dir,
                                      'inst-1_att-1_start.qcow2'), ov1)
        self.assertEqual(os.path.join(overlay_dir,
                                      'inst-1_att-1_complete.qcow2'), ov2)

    def test_classify(self):
        layout = self.layout
        cases = [
            (layout.src, State.ON_SRC),
            (layout.dst, State.ON_DST),
            (layout.start_overlay, State.OVERLAY_ON_SRC),
            (layout.complete_overlay, State.SWITCHED_TO_DST),
            # OVERLAY1 rebased onto dst by an offline complete
            (layout.start_overlay.with_backing(layout.dst),
             State.SWITCHED_TO_DST),
        ]
        for source, state in cases:
            self.assertEqual(state, layout.classify(source, 'dom'))

    def test_classify_unknown(self):
        other = config.DiskSource('file', 'raw', path='/v/other.raw')
        err = self.assertRaises(lv_exc.UnexpectedDiskChain,
                                self.layout.classify, other, 'dom')
        self.assertIn('/v/other.raw', str(err))


class PersistLiveDiskTest(base.TestCase):
    """The persistent <disk> follows the live chain, read once."""

    def setUp(self):
        super().setUp()
        self.reads = []
        self.updates = []
        self.persistent = config.DiskState(
            'vdb', 'virtio-disk1', config.DiskSource('file', path='/v/src'),
            serial='vol-1')
        self.live = config.DiskSource(
            'file', 'qcow2', path='/o/overlay',
            backing=config.DiskSource('file', path='/v/dst'))
        self.guest = types.SimpleNamespace(
            get_disk=self._get_disk,
            update_device=lambda xml, persistent: self.updates.append(xml))
        self.layout = types.SimpleNamespace(
            disk='vdb', device_name='vdb',
            migration=types.SimpleNamespace(src_connection_info=None,
                                            volume_id='vol-0'))
        self.migrator = volume_migration.LibvirtVolumeMigrator(host=None)

    def _get_disk(self, target, dump_inactive=False):
        self.reads.append(dump_inactive)
        return self.persistent if dump_inactive else config.DiskState(
            target, 'virtio-disk1', self.live)

    def test_changed_chain_is_written_with_the_serial_read_once(self):
        self.migrator._persist_live_disk(self.guest, self.layout, self.live)
        self.assertEqual([True], self.reads)
        self.assertEqual(1, len(self.updates))
        self.assertIn('<serial>vol-1</serial>', self.updates[0])
        self.assertIn('/o/overlay', self.updates[0])

    def test_same_chain_is_left_alone(self):
        self.persistent = dataclasses.replace(self.persistent,
                                              source=self.live)
        self.migrator._persist_live_disk(self.guest, self.layout)
        self.assertEqual([False, True], self.reads)
        self.assertEqual([], self.updates)


class FinishAcrossLibvirtdRestartTest(base.TestCase):
    """The asynchronous finish outlives a libvirtd restart (issue 11)."""

    def setUp(self):
        super().setUp()
        from unittest import mock
        self.drv = libvirt_driver.LibvirtDriver(host=mock.Mock())
        self.drv.migrator = mock.Mock()
        self.migration = mock.Mock(src_attachment_id='a')

    def test_finish_runs_again_once_libvirtd_is_back(self):
        lost = lv_exc.LibvirtConnectionError(uri='qemu:///system',
                                             reason='socket gone')
        for step, call in (('complete_finish',
                            self.drv.volume_migration_complete_finish),
                           ('cancel_finish',
                            self.drv.volume_migration_cancel_finish)):
            finish = getattr(self.drv.migrator, step)
            finish.side_effect = [lost, None]
            call(None, 'instance', self.migration)
            self.assertEqual(2, finish.call_count, step)

    def test_a_lost_connection_under_another_error_counts(self):
        import libvirt
        cut = libvirt.libvirtError('cannot recv data')
        cut.err = (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_RPC,
                   'cannot recv data', 2, None, None, None, 0, 0)
        try:
            try:
                raise cut
            except libvirt.libvirtError as e:
                raise lv_exc.LibvirtCallFailed(call='blockCommit',
                                               domain='u', reason=e) from e
        except lv_exc.LibvirtCallFailed as wrapped:
            self.assertTrue(libvirt_host.connection_lost(wrapped))
        self.assertFalse(libvirt_host.connection_lost(ValueError('x')))

    def test_other_failures_are_not_retried(self):
        self.drv.migrator.complete_finish.side_effect = \
            lv_exc.BlockJobFailed(disk='vdb', domain='u', job='commit',
                                  reason='I/O error')
        self.assertRaises(lv_exc.BlockJobFailed,
                          self.drv.volume_migration_complete_finish,
                          None, 'instance', self.migration)
        self.assertEqual(1, self.drv.migrator.complete_finish.call_count)
