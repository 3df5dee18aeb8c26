"""Guest.get_disks reads a rebased disk's chain from QEMU's graph."""

from __future__ import annotations

import contextlib
from unittest import mock

import libvirt

from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import guest as lv_guest
from tests import base
from tests.unit.virt.libvirt import fake_qemu
from tests.unit.virt.libvirt import test_blockdev

DOMAIN_XML = '''<domain type='qemu'>
  %(metadata)s
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(overlay)s' index='2'/>
      <backingStore type='file' index='1'>
        <format type='raw'/>
        <source file='%(src)s'/>
        <backingStore/>
      </backingStore>
      <target dev='vdb' bus='virtio'/>
      <alias name='ua-vol-vdb'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/vol/other.raw' index='3'/>
      <target dev='vdc' bus='virtio'/>
      <alias name='ua-vol-vdc'/>
    </disk>
  </devices>
</domain>'''


class TestRebasedMetadata(base.TestCase):

    def test_round_trip(self):
        xml = config.rebased_metadata({'vdc', 'vdb'})
        self.assertEqual('<rebased><disk target="vdb" /><disk target="vdc" '
                         '/></rebased>', xml)
        domain = ("<domain><metadata><volmig:rebased xmlns:volmig='%s'>"
                  "<volmig:disk target='vdb'/></volmig:rebased></metadata>"
                  "</domain>" % config.REBASED_NS)
        self.assertEqual({'vdb'}, config.rebased_targets(domain))
        self.assertEqual(set(), config.rebased_targets('<domain/>'))


class TestGetDisksRebased(base.TestCase):

    def setUp(self):
        super().setUp()
        self.qemu = fake_qemu.FakeQemu()
        switch = test_blockdev._switch(self.qemu)
        switch.switch(switch.src_node_names())
        self.dom = mock.Mock(spec=libvirt.virDomain)
        host = mock.Mock(generation=0)
        host.call.side_effect = lambda func, idempotent: func()
        host.block_graph_lock.return_value = contextlib.nullcontext()
        self.guest = lv_guest.Guest(host, 'u', self.dom)
        self.guest.qemu_monitor_command = self.qemu.command

    def _xml(self, marked: bool) -> str:
        metadata = ("<metadata><volmig:rebased xmlns:volmig='%s'>"
                    "<volmig:disk target='vdb'/></volmig:rebased>"
                    "</metadata>" % config.REBASED_NS) if marked else ''
        return DOMAIN_XML % {'metadata': metadata,
                             'overlay': fake_qemu.OVERLAY,
                             'src': fake_qemu.SRC}

    def test_marked_disk_chain_comes_from_qemu(self):
        self.dom.XMLDesc.return_value = self._xml(marked=True)
        disks = {d.target: d for d in self.guest.get_disks()}
        self.assertEqual(fake_qemu.OVERLAY, disks['vdb'].source.path)
        self.assertEqual(fake_qemu.DST, disks['vdb'].source.backing.path)
        self.assertEqual('/vol/other.raw', disks['vdc'].source.path)

    def test_unmarked_disks_are_libvirts_xml(self):
        self.dom.XMLDesc.return_value = self._xml(marked=False)
        self.qemu.calls.clear()
        disk = self.guest.get_disk('vdb')
        self.assertEqual(fake_qemu.SRC, disk.source.backing.path)
        self.assertEqual([], self.qemu.calls)    # no QMP at all

    def test_persistent_xml_is_never_corrected(self):
        self.dom.XMLDesc.return_value = self._xml(marked=True)
        self.qemu.calls.clear()
        self.guest.get_disk('vdb', dump_inactive=True)
        self.assertEqual([], self.qemu.calls)

    def test_mark_sets_live_metadata(self):
        self.dom.XMLDesc.return_value = self._xml(marked=False)
        self.guest.mark_disk_rebased('vdb')
        self.dom.setMetadata.assert_called_once_with(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT,
            '<rebased><disk target="vdb" /></rebased>',
            config.REBASED_PREFIX, config.REBASED_NS,
            libvirt.VIR_DOMAIN_AFFECT_LIVE)
