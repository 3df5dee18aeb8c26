"""The test domain's XML: the data disk, its serial, the decoys."""

import xml.etree.ElementTree as ET

from tests import base
from volmig_bench.guest import builder
from volmig_bench.guest import domain


class DomainXmlTestCase(base.TestCase):

    def _disks(self, **kwargs):
        image = builder.GuestImage(self.state_path, {})
        with open(image.path + '/cmdline', 'w') as f:
            f.write('console=ttyS0\n')
        xml = domain.domain_xml('d', image, '/v/data.raw', '/v/c.log',
                                '/v/v.log', **kwargs)
        return [(d.find('source').get('file'), d.find('target').get('dev'),
                 d.findtext('serial'))
                for d in ET.fromstring(xml).iter('disk')]

    def test_one_disk_without_serial(self):
        self.assertEqual([('/v/data.raw', 'vdb', None)], self._disks())

    def test_serial_disk_after_the_decoys(self):
        vol = '0b5e6a5c-3f0e-4a43-9d53-4c1f2f8a9b11'
        self.assertEqual([('/v/a.raw', 'vdb', None),
                          ('/v/b.raw', 'vdc', None),
                          ('/v/data.raw', 'vdd', vol)],
                         self._disks(serial=vol,
                                     decoys=('/v/a.raw', '/v/b.raw')))
