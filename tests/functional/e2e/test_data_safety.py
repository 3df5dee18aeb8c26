"""The guest's disk is never re-pointed or deleted under it (issue 16).

Real libvirt + QEMU through nova-volmig-aio; guest writes from HMP
qemu-io on the live disk; data proven by sha256, the disk by the live
domain XML.

* item 1: a legacy swap on a volume whose ``migration_status`` is a
  leftover of an earlier migration is refused (409): the domain keeps
  its disk, Nova and Cinder keep their records.
* item 2: the volume's Cinder attachment deleted while the guest still
  has it (allowed, as upstream): a migration, which then looks detached,
  is refused (409) instead of deleting src under QEMU; the guest's later
  writes land on src.
"""

from __future__ import annotations

import os
from xml.etree import ElementTree

import libvirt

from tests.functional.e2e import test_new_flow
from tests.functional.fixtures import libvirt as lv


def live_disk(instance_name: str, device: str) -> str:
    """The live XML of the domain's disk ``device`` (/dev/vdb), as text."""
    conn = libvirt.open('qemu:///system')
    try:
        xml = conn.lookupByName(instance_name).XMLDesc(0)
    finally:
        conn.close()
    for disk in ElementTree.fromstring(xml).iter('disk'):
        target = disk.find('target')
        if target is not None and \
                target.get('dev') == os.path.basename(device):
            # Only what names the storage: the source and its backing.
            parts = [disk.find('source'), disk.find('backingStore')]
            return ''.join(ElementTree.tostring(p, encoding='unicode')
                           for p in parts if p is not None)
    raise AssertionError('no disk %s in %s' % (device, xml))


class DataSafetyBase(test_new_flow.E2ETestCase):

    def attached(self):
        server, volume, writer = self.attached_volume()
        name = server['OS-EXT-SRV-ATTR:instance_name']
        device = self.aio.nova.get(
            '/servers/%s/os-volume_attachments/%s'
            % (server['id'], volume['id']),
            expect=200).json()['volumeAttachment']['device']
        writer.write_some(4)
        return server, volume, writer, name, device

    def assertGuestOn(self, path, writer, name, device, disk_before):
        """The domain kept its disk and every write is in ``path``."""
        self.assertEqual(disk_before, live_disk(name, device))
        writer.write_some(3)
        self.assertEqual(writer.sha256(), lv.sha256_file(path))

    def delete_cinder_attachment(self, volume):
        (attachment,) = volume['attachments']
        self.aio.cinder.request(
            'DELETE', '/attachments/%s' % attachment['attachment_id'],
            expect=200)
        return self.aio.wait_volume(volume['id'], 'available')


class TestSwapGuard(DataSafetyBase):
    """Item 1 on real QEMU."""

    def test_swap_on_leftover_success_is_refused(self):
        server, volume, writer, name, device = self.attached()
        # An earlier migration leaves migration_status 'success'.
        self.aio.migrate(volume['id'], 'aio@array1#pool2')
        done = self.aio.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.aio.wait_nova_settled(server['id'])
        path = self.aio.volume_path(done)
        writer.write_some(2)
        disk_before = live_disk(name, device)
        self.assertIn(path, disk_before)

        other = self.aio.create_volume()
        other_path = self.aio.volume_path(other)
        other_sum = lv.sha256_file(other_path)
        resp = self.aio.nova.request(
            'PUT', '/servers/%s/os-volume_attachments/%s'
            % (server['id'], volume['id']),
            {'volumeAttachment': {'volumeId': other['id']}})
        self.assertEqual(409, resp.status_code, resp.text)
        message = resp.json()['conflict']['message']
        self.assertIn('migration_status is success', message)

        self.assertIsNone(self.aio.server(server['id'])
                          ['OS-EXT-STS:task_state'])
        self.assertGuestOn(path, writer, name, device, disk_before)
        # Nothing moved on either side.
        self.assertEqual(path, self.aio.bdm_connection_info(
            server['id'], volume['id'])['data']['device_path'])
        other_now = self.aio.volume(other['id'])
        self.assertEqual('available', other_now['status'])
        self.assertEqual([], other_now['attachments'])
        self.assertEqual(other_sum, lv.sha256_file(other_path))
        self.assertEqual('in-use', self.aio.volume(volume['id'])['status'])


class TestInUseCheck(DataSafetyBase):
    """Item 2 on real QEMU, the volume a local file."""

    def test_migration_of_a_volume_qemu_holds_is_refused(self):
        server, volume, writer, name, device = self.attached()
        src_path = self.aio.volume_path(volume)
        disk_before = live_disk(name, device)
        volume = self.delete_cinder_attachment(volume)
        self.assertEqual([], volume['attachments'])

        resp = self.aio.cinder.post(
            '/volumes/%s/action' % volume['id'],
            {'os-migrate_volume': {'host': 'aio@array1#pool2'}})
        self.assertEqual(409, resp.status_code, resp.text)
        message = resp.json()['conflictingRequest']['message']
        self.assertIn('still in use', message)
        self.assertIn(self.holder_text(server, src_path), message)
        self.assertIsNone(self.aio.volume(volume['id'])['migration_status'])

        # src was not deleted and the guest's later writes are on it.
        self.assertTrue(os.path.exists(src_path))
        self.assertEqual(src_path, self.aio.volume_path(volume))
        self.assertGuestOn(src_path, writer, name, device, disk_before)
        self.assertEqual([], os.listdir(os.path.dirname(
            src_path).replace('pool1', 'pool2')))

    def holder_text(self, server, src_path):
        pid = lv.qemu_pid(lv.FakeInstance(
            uuid=server['id'], name=server['OS-EXT-SRV-ATTR:instance_name']))
        return '(pid %d) has %s open' % (pid, src_path)


class TestInUseCheckNBD(TestInUseCheck):
    """Item 2 with the volume served over NBD: QEMU is the export's client.

    Deleting the attachment keeps the export while QEMU is connected, so
    the guest goes on writing to src.
    """

    volume_protocol = 'nbd'

    def holder_text(self, server, src_path):
        return 'serves NBD export volume-'
