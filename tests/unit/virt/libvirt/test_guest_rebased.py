"""Guest.get_disks reads a rebased disk's chain from QEMU's graph."""

from __future__ import annotations

import contextlib
from unittest import mock

import libvirt

from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import guest as lv_guest
from nova_volmig.virt.libvirt import images
from nova_volmig.virt.libvirt import rebase
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


def _domain_xml(marked: bool) -> str:
    metadata = ("<metadata><volmig:rebased xmlns:volmig='%s'>"
                "<volmig:disk target='vdb'/></volmig:rebased>"
                "</metadata>" % config.REBASED_NS) if marked else ''
    return DOMAIN_XML % {'metadata': metadata,
                         'overlay': fake_qemu.OVERLAY,
                         'src': fake_qemu.SRC}


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
        return _domain_xml(marked)

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
        self._assert_live_metadata('<rebased><disk target="vdb" /></rebased>')

    def _assert_live_metadata(self, element: str) -> None:
        self.dom.setMetadata.assert_called_once_with(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT, element,
            config.REBASED_PREFIX, config.REBASED_NS,
            libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def test_unmark_keeps_other_disks_marked(self):
        self.dom.XMLDesc.return_value = self._xml(marked=True).replace(
            "<volmig:disk target='vdb'/>",
            "<volmig:disk target='vdb'/><volmig:disk target='vdc'/>")
        self.guest.unmark_disk_rebased('vdb')
        self._assert_live_metadata('<rebased><disk target="vdc" /></rebased>')

    def test_unmark_of_an_unmarked_disk_writes_nothing(self):
        self.dom.XMLDesc.return_value = self._xml(marked=False)
        self.guest.unmark_disk_rebased('vdb')
        self.dom.setMetadata.assert_not_called()

    def test_unmark_of_the_last_disk_removes_the_element(self):
        self.dom.XMLDesc.return_value = self._xml(marked=True)
        self.guest.unmark_disk_rebased('vdb')
        self.dom.setMetadata.assert_called_once_with(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT, None, None,
            config.REBASED_NS, libvirt.VIR_DOMAIN_AFFECT_LIVE)


class TestCopyIntoDst(base.TestCase):
    """The finish of a switched disk mirrors the overlay onto dst."""

    def test_granularity_is_the_overlays_allocation_unit(self):
        for unit, granularity in ((4096, 4096), (2048, 4096),
                                  (16384, 16384), (12288, 16384),
                                  (131072, 65536), (None, 65536)):
            with mock.patch.object(images, 'info', return_value=mock.Mock(
                    allocation_unit=unit)):
                self.assertEqual(granularity,
                                 rebase.copy_granularity('/o/ov'))

    def test_shallow_copy_onto_dst(self):
        layout = mock.Mock()
        layout.dst.copy_target_xml.return_value = '<disk dst/>'
        device = mock.Mock()
        with mock.patch.object(rebase, 'copy_granularity',
                               return_value=4096):
            rebase.copy_into_dst(layout, 1 << 20)(device)
        device.copy.assert_called_once_with(
            '<disk dst/>', shallow=True, reuse_ext=True, transient=True,
            bandwidth=1 << 20, granularity=4096)


class TestSettleView(base.TestCase):
    """The mark goes once libvirt's XML names dst (after the pivot)."""

    ON_DST = """<disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='%s' index='4'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
      <alias name='ua-vol-vdb'/>
    </disk>""" % fake_qemu.DST

    def setUp(self):
        super().setUp()
        self.guest = mock.Mock()
        self.layout = mock.Mock(disk='vdb')
        self.layout.dst = config.DiskSource('file', 'raw',
                                            path=fake_qemu.DST)

    def _xml(self, on_dst: bool, marked: bool = True) -> str:
        xml = _domain_xml(marked)
        if on_dst:
            start = xml.index("<disk type='file'")
            end = xml.index('</disk>') + len('</disk>')
            xml = xml[:start] + self.ON_DST + xml[end:]
        return xml

    def test_unmarked_once_libvirt_names_dst(self):
        self.guest.get_xml_desc.return_value = self._xml(on_dst=True)
        rebase.settle_view(self.guest, self.layout)
        self.guest.unmark_disk_rebased.assert_called_once_with('vdb')

    def test_kept_while_libvirt_names_src(self):
        self.guest.get_xml_desc.return_value = self._xml(on_dst=False)
        rebase.settle_view(self.guest, self.layout)
        self.guest.unmark_disk_rebased.assert_not_called()

    def test_nothing_to_do_when_not_marked(self):
        self.guest.get_xml_desc.return_value = self._xml(on_dst=True,
                                                         marked=False)
        rebase.settle_view(self.guest, self.layout)
        self.guest.unmark_disk_rebased.assert_not_called()
