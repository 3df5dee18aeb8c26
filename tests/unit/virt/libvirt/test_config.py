from xml.etree import ElementTree as ET

from nova_volmig.virt.libvirt import config
from tests import base

NBD = config.DiskSource('network', 'raw', protocol='nbd', host='127.0.0.1',
                        port=10809, name='volume-1')


class ConfigTest(base.TestCase):

    def test_alias_is_stable_and_valid(self):
        self.assertEqual('ua-vol-vdb', config.volume_alias('/dev/vdb'))
        self.assertEqual('/machine/peripheral/ua-vol-vdb/virtio-backend',
                         config.qdev_backend_path('/dev/vdb'))

    def test_file_disk_round_trip(self):
        src = config.DiskSource('file', 'raw', path='/v/src.raw')
        overlay = config.DiskSource('file', 'qcow2', path='/o/ov.qcow2',
                                    backing=src)
        xml = overlay.disk_xml('/dev/vdc')
        elem = ET.fromstring(xml)
        self.assertEqual('vdc', elem.find('target').get('dev'))
        self.assertEqual('virtio', elem.find('target').get('bus'))
        self.assertEqual('ua-vol-vdc', elem.find('alias').get('name'))
        self.assertEqual('none', elem.find('driver').get('cache'))
        self.assertEqual(overlay, config.DiskSource.from_element(elem))

    def test_nbd_disk(self):
        elem = ET.fromstring(NBD.disk_xml('/dev/vdb'))
        self.assertEqual('network', elem.get('type'))
        source = elem.find('source')
        self.assertEqual(('nbd', 'volume-1'),
                         (source.get('protocol'), source.get('name')))
        self.assertEqual('10809', source.find('host').get('port'))
        self.assertIsNone(elem.find('driver').get('io'))
        self.assertEqual('nbd://127.0.0.1:10809/volume-1', NBD.uri)
        self.assertEqual(NBD, config.DiskSource.from_element(elem))
        self.assertTrue(NBD.same_location(config.DiskSource.from_uri(
            'nbd://127.0.0.1:10809/volume-1')))

    def test_block_disk(self):
        dev = config.DiskSource('block', 'raw', path='/dev/loop3')
        elem = ET.fromstring(dev.disk_xml('/dev/vdb'))
        self.assertEqual('/dev/loop3', elem.find('source').get('dev'))

    def test_snapshot_xml_only_the_one_disk(self):
        overlay = config.DiskSource('file', 'qcow2', path='/o/ov.qcow2')
        snap = ET.fromstring(config.snapshot_xml(['vda', 'vdb'], 'vdb',
                                                 overlay))
        disks = {d.get('name'): d for d in snap.findall('./disks/disk')}
        self.assertEqual('no', disks['vda'].get('snapshot'))
        self.assertEqual('external', disks['vdb'].get('snapshot'))
        self.assertEqual('/o/ov.qcow2',
                         disks['vdb'].find('source').get('file'))
        self.assertEqual('qcow2', disks['vdb'].find('driver').get('type'))

    def test_parse_disks_with_mirror(self):
        xml = """<domain><devices><disk type='file' device='disk'>
          <driver name='qemu' type='qcow2'/>
          <source file='/o/ov.qcow2' index='2'/>
          <backingStore type='file' index='1'><format type='raw'/>
            <source file='/v/src.raw'/><backingStore/></backingStore>
          <mirror type='file' job='copy' ready='yes'>
            <format type='qcow2'/><source file='/o/ov2.qcow2'/></mirror>
          <target dev='vdb' bus='virtio'/><alias name='ua-vol-vdb'/>
        </disk></devices></domain>"""
        (disk,) = config.parse_disks(xml)
        self.assertEqual('vdb', disk.target)
        self.assertTrue(disk.mirror_ready)
        self.assertEqual('/o/ov2.qcow2', disk.mirror.path)
        self.assertEqual('qcow2', disk.mirror.format)
        self.assertEqual(['/o/ov.qcow2', '/v/src.raw'],
                         [layer.path for layer in disk.source.chain()])

    def test_domain_xml(self):
        disk = config.DiskSource('file', 'raw', path='/v/a.raw')
        xml = config.DomainConfig(
            name='instance-00000001', uuid='u-1', virt_type='qemu',
            memory_mb=64, vcpus=1, console_log='/i/console.log',
            virtio_console_log='/i/virtio-console.log',
            disks=(disk.disk_element('/dev/vdb'),),
            kernel_boot=config.DirectKernelBoot('/img/kernel', None,
                                                'console=hvc0')).to_xml()
        dom = ET.fromstring(xml)
        self.assertEqual('qemu', dom.get('type'))
        self.assertEqual('u-1', dom.find('uuid').text)
        self.assertIsNotNone(dom.find('./features/acpi'))
        self.assertIsNone(dom.find('./devices/interface'))
        self.assertEqual('/i/console.log',
                         dom.find('./devices/serial/source').get('path'))
        console = dom.find('./devices/console')
        self.assertEqual('virtio', console.find('target').get('type'))
        self.assertEqual('/i/virtio-console.log',
                         console.find('source').get('path'))
        self.assertEqual('/img/kernel', dom.find('./os/kernel').text)
        self.assertEqual('console=hvc0', dom.find('./os/cmdline').text)

    def test_serial_is_the_volume_id(self):
        volume_id = '3f0c8b52-5d7c-4a43-9c39-2f1f0d4a6e11'
        src = config.DiskSource('file', 'raw', path='/v/src.raw')
        elem = ET.fromstring(src.disk_xml('/dev/vdb', serial=volume_id))
        self.assertEqual(volume_id, elem.findtext('serial'))
        self.assertIsNone(ET.fromstring(src.disk_xml('/dev/vdb')).find(
            'serial'))
        domain = '<domain><devices>%s</devices></domain>' % src.disk_xml(
            '/dev/vdb', serial=volume_id)
        [disk] = config.parse_disks(domain)
        self.assertEqual(volume_id, disk.serial)

    def test_volume_driver_and_domain_xml_take_the_serial(self):
        from nova_volmig.virt.libvirt import driver
        from nova_volmig.virt.libvirt import volume
        ci = {'driver_volume_type': 'file',
              'data': {'device_path': '/v/a', 'format': 'raw'}}
        xml = volume.get_volume_driver(ci).get_config(
            dict(ci, serial='vol-1'), '/dev/vdb')
        self.assertEqual('vol-1', ET.fromstring(xml).findtext('serial'))
        # The BDM's connection_info first (kept across a swap), else its
        # volume id.
        self.assertEqual('vol-1', driver.volume_serial(
            {'connection_info': dict(ci, serial='vol-1'),
             'volume_id': 'vol-2'}))
        self.assertEqual('vol-2', driver.volume_serial(
            {'connection_info': ci, 'volume_id': 'vol-2'}))
