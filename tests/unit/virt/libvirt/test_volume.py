from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import volume
from tests import base


class VolumeDriverTest(base.TestCase):

    def test_factory(self):
        for kind, cls in (('file', 'LibvirtFileVolumeDriver'),
                          ('block', 'LibvirtBlockVolumeDriver'),
                          ('nbd', 'LibvirtNBDVolumeDriver')):
            drv = volume.get_volume_driver({'driver_volume_type': kind})
            self.assertEqual(cls, type(drv).__name__)

    def test_unsupported(self):
        err = self.assertRaises(lv_exc.UnsupportedVolumeType,
                                volume.get_volume_driver,
                                {'driver_volume_type': 'iscsi'})
        self.assertIn('iscsi', str(err))
        self.assertIn('block, file, nbd', str(err))

    def test_file_and_block(self):
        src = volume.disk_source({'driver_volume_type': 'file', 'data': {
            'device_path': '/v//a.raw', 'format': 'raw'}})
        self.assertEqual(('file', '/v/a.raw', 'raw'),
                         (src.kind, src.path, src.format))
        blk = volume.disk_source({'driver_volume_type': 'block', 'data': {
            'device_path': '/dev/loop0'}})
        self.assertEqual('block', blk.kind)

    def test_nbd(self):
        src = volume.disk_source({'driver_volume_type': 'nbd', 'data': {
            'host': '127.0.0.1', 'port': '10810', 'export': 'volume-x',
            'format': 'raw'}})
        self.assertEqual('nbd://127.0.0.1:10810/volume-x', src.uri)

    def test_invalid(self):
        for info in (
                {'driver_volume_type': 'file', 'data': {'device_path': 'x'}},
                {'driver_volume_type': 'file', 'data': None},
                {'driver_volume_type': 'file',
                 'data': {'device_path': '/a', 'format': 'vmdk'}},
                {'driver_volume_type': 'nbd',
                 'data': {'host': 'h', 'export': 'e', 'port': 70000}},
                {'driver_volume_type': 'nbd',
                 'data': {'host': 'h', 'export': 'a/b'}},
                {'driver_volume_type': 'nbd', 'data': {'export': 'e'}}):
            err = self.assertRaises(lv_exc.InvalidConnectionInfo,
                                    volume.disk_source, info)
            self.assertEqual(400, err.code)
