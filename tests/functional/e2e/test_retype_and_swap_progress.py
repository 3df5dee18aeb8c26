"""Two paths of Cinder's migration checked end to end on real QEMU.

* A retype with ``migration_policy=on-demand`` of a volume attached to a
  running guest: Cinder's new flow (Nova start, copy, complete) moves it
  to the new type's backend while the guest writes; dst must hold
  src-at-start plus every acknowledged write (sha256).
* A legacy swap: Cinder's ``migration_progress`` is Nova's
  ``swap_progress`` (the BDM's, written from the block job's progress),
  sampled side by side over both REST APIs while the copy runs over
  throttled NBD exports.
"""

from __future__ import annotations

import os

import libvirt

from nova_volmig.virt.libvirt import config
from tests.functional.e2e import test_new_flow as e2e
from tests.functional.fixtures import libvirt as lv

MiB = e2e.MiB


def disk_serials(server_id: str, device: str) -> tuple[str, str]:
    """``<serial>`` of the volume's disk in the live and persistent XML."""
    conn = libvirt.open('qemu:///system')
    try:
        dom = conn.lookupByUUIDString(server_id)
        target = config.target_dev(device)
        return tuple(
            next(d.serial for d in config.parse_disks(dom.XMLDesc(flags))
                 if d.target == target)
            for flags in (0, libvirt.VIR_DOMAIN_XML_INACTIVE))
    finally:
        conn.close()


class TestOnDemandRetypeAttached(e2e.E2ETestCase):

    # Slow enough for guest writes while Cinder copies.
    cinder_conf = {'DEFAULT': {'migration_copy_bandwidth': 64 * MiB}}

    def test_running_guest_volume_retyped_to_another_array(self):
        server, volume, writer = self.attached_volume(seed=31)
        src_path = self.aio.volume_path(volume)
        self.assertTrue(volume['os-vol-host-attr:host'].startswith(
            'aio@array1#'))
        writer.write_some(5)
        vtype = self.aio.cinder.post('/types', {'volume_type': {
            'name': 'other-array', 'extra_specs': {
                'volume_backend_name': 'array2'}}}, expect=200
        ).json()['volume_type']
        self.aio.cinder.post('/volumes/%s/action' % volume['id'], {
            'os-retype': {'new_type': vtype['name'],
                          'migration_policy': 'on-demand'}}, expect=202)
        statuses = []

        def migrating_with_writes():
            v = self.aio.volume(volume['id'])
            statuses.append(v['migration_status'])
            if v['migration_status'] == 'migrating':
                writer.write_some(2)  # into the start overlay
            return v['migration_status'] in ('completing', 'success',
                                             'error')

        lv.wait_for(migrating_with_writes, timeout=180, interval=0.3,
                    what='copy phase of the retype')
        self.assertIn('migrating', statuses)
        done = self.aio.wait_migration(volume['id'], timeout=180)
        self.assertEqual('success', done['migration_status'])
        self.assertEqual(volume['id'], done['id'])
        self.assertEqual('other-array', done['volume_type'])
        self.assertTrue(done['os-vol-host-attr:host'].startswith(
            'aio@array2#'), done['os-vol-host-attr:host'])
        self.assertEqual('in-use', done['status'])
        self.aio.wait_nova_settled(server['id'])
        writer.write_some(3)  # the guest goes on writing, to dst
        dst_path = self.aio.volume_path(done)
        self.assertNotEqual(src_path, dst_path)
        self.assertFalse(os.path.exists(src_path))
        self.assertQemuDoesNotHold(server, src_path)
        self.assertEqual(writer.sha256(), lv.sha256_file(dst_path))
        [record] = self.aio.nova.get(
            '/os-volume-migrations?instance_uuid=%s' % server['id']
        ).json()['volume_migrations']
        self.assertEqual('completed', record['status'])
        # The guest still knows the disk by the volume id (by-id name).
        device = self.aio.nova.get(
            '/servers/%s/os-volume_attachments/%s' % (
                server['id'], volume['id']), expect=200).json()[
            'volumeAttachment']['device']
        self.assertEqual((volume['id'], volume['id']),
                         disk_serials(server['id'], device))


class TestLegacySwapProgress(e2e.E2ETestCase):

    volume_protocol = 'nbd'
    # The swap's mirror reads src and writes dst through NBD exports
    # limited to 64 MiB/s each way: a 1 GiB swap lasts about 16 of
    # Cinder's 1 s polls.
    cinder_conf = {
        'DEFAULT': {'attached_migration_mode': 'legacy',
                    'migration_poll_interval': 1},
        'array1': {'nbd_throttle_bytes_sec': 64 * MiB}}

    def test_cinder_progress_is_novas_swap_progress(self):
        server, volume, writer = self.attached_volume(seed=41)
        writer.write_some(3)
        self.aio.migrate(volume['id'], 'aio@array1#pool2')
        nova_seen, cinder_seen = set(), []
        bdm_url = '/servers/%s/os-volume_attachments/%s' % (
            server['id'], volume['id'])

        def sample():
            # Cinder first: what it shows was Nova's value at its last
            # poll, which this or an earlier Nova sample saw.
            v = self.aio.volume(volume['id'])
            bdm = self.aio.nova.get(bdm_url, expect=200).json()[
                'volumeAttachment']
            if bdm.get('swap_progress') is not None:
                nova_seen.add(bdm['swap_progress'])
            if (v['migration_status'] == 'migrating'
                    and v['migration_progress'] is not None):
                cinder_seen.append(v['migration_progress'])
            return v['migration_status'] in ('completing', 'success',
                                             'error')

        lv.wait_for(sample, timeout=300, interval=0.1,
                    what='legacy swap of %s' % volume['id'])
        done = self.aio.wait_migration(volume['id'], timeout=300)
        self.assertEqual('success', done['migration_status'])
        middle = [p for p in cinder_seen if 0 < int(p) < 100]
        self.assertTrue(middle, 'Cinder showed no progress mid-swap: '
                                '%s (Nova: %s)' % (cinder_seen, nova_seen))
        # Cinder itself sets 0 % when the migration turns migrating;
        # from Nova's first report on, every value it shows is Nova's.
        first = next(i for i, p in enumerate(cinder_seen) if p != '0')
        self.assertEqual(['0'] * first, cinder_seen[:first])
        self.assertEqual([], [p for p in cinder_seen[first:]
                              if p not in nova_seen],
                         'values Nova never reported; Nova: %s'
                         % sorted(nova_seen, key=int))
        self.assertEqual(sorted(cinder_seen, key=int), cinder_seen)
        # The swap is over: Nova cleared swap_progress, the data is on dst.
        bdm = self.aio.nova.get(bdm_url, expect=200).json()[
            'volumeAttachment']
        self.assertNotIn('swap_progress', bdm)
        self.aio.wait_nova_settled(server['id'])
        writer.write_some(2)
        self.assertEqual(writer.sha256(), lv.sha256_file(
            self.aio.volume_path(done)))
        # Nova's serial survives the swap, in the domain and the BDM.
        self.assertEqual((volume['id'], volume['id']),
                         disk_serials(server['id'], bdm['device']))
        self.assertEqual(volume['id'], self.aio.bdm_connection_info(
            server['id'], volume['id'])['serial'])
