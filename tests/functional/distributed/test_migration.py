"""Volume migrations across the separate processes (issue 6).

nova-volmig-api, compute-live (libvirt), compute-offline (no live storage
migration) and cinder-volmig run as processes over RabbitMQ and
PostgreSQL; the tests drive them only through the REST APIs, listen to
the versioned notifications on the broker, and prove the data by sha256.
"""

from __future__ import annotations

import json
import os

from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import libvirt as lv

MiB = 1024 * 1024


class TestMigrationAcrossProcesses(dist.DistributedTestCase):

    # Slow enough to write and watch progress during Cinder's copy.
    settings = {'cinder_overrides': {
        'DEFAULT': {'migration_copy_bandwidth': 2 * MiB}}}

    def test_running_instance_with_notifications(self):
        notes = self.listen()
        server, volume, writer = self.attached_volume()
        src_path = self.cloud.volume_path(volume)
        writer.write_some(5)
        self.cloud.migrate(volume['id'], '%s@array1#pool2' % dist.CINDER_HOST)
        progress = []

        def migrating_with_writes():
            v = self.cloud.volume(volume['id'])
            if v['migration_status'] == 'migrating':
                progress.append(int(v['migration_progress']))
                writer.write_some(2)  # no block job runs while Cinder copies
            return v['migration_status'] in ('completing', 'success',
                                             'error')

        lv.wait_for(migrating_with_writes, timeout=120, interval=0.3,
                    what='copy phase')
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual('%s@array1#pool2' % dist.CINDER_HOST,
                         done['os-vol-host-attr:host'])
        self.assertGreater(len(progress), 1, progress)
        self.assertEqual(sorted(progress), progress)
        # Invariants 2 and 4: dst == src-at-start + every acknowledged
        # write, QEMU no longer holds src, and the guest goes on on dst.
        writer.write_some(3)
        dst_path = self.cloud.volume_path(done)
        self.assertNotEqual(src_path, dst_path)
        self.assertFalse(os.path.exists(src_path))
        pid = lv.qemu_pid(lv.FakeInstance(
            uuid=server['id'], name=server['OS-EXT-SRV-ATTR:instance_name']))
        self.assertNotIn(src_path, lv.open_paths(pid))
        self.assertEqual(writer.sha256(), lv.sha256_file(dst_path))
        [record] = self.cloud.migrations(server['id'])
        self.assertEqual('completed', record['status'])

        # The versioned notifications, read from the broker.
        def mine(m):
            data = m['payload']['nova_object.data']
            return data['instance_uuid'] == server['id']

        notes.wait_for('instance.volume_migration.end', where=lambda m: (
            mine(m) and m['payload']['nova_object.data']['action'] ==
            'complete'))
        seen = [(m['event_type'].rsplit('.', 1)[1],
                 m['payload']['nova_object.data']['action'])
                for m in notes.messages if mine(m)]
        self.assertEqual([('start', 'start'), ('end', 'start'),
                          ('start', 'complete'), ('end', 'complete')], seen)
        for message in notes.messages:
            if mine(message):
                self.assertEqual('nova-compute:%s' % dist.LIVE,
                                 message['publisher_id'])
                self.assertEqual('InstanceActionVolumeMigrationPayload',
                                 message['payload']['nova_object.name'])
                self.assertEqual(
                    record['src_attachment_id'],
                    message['payload']['nova_object.data'][
                        'src_attachment_id'])

    def test_requests_routed_to_the_instance_host(self):
        notes = self.listen()
        live, _live_volume, _writer = self.attached_volume(seed=2)
        server, volume, _none = self.attached_volume(dist.OFFLINE, seed=3)
        # Only compute-live runs libvirt domains.
        self.assertTrue(dist.domain_exists(live['id']))
        self.assertFalse(dist.domain_exists(server['id']))
        src_path = self.cloud.volume_path(volume)
        digest = lv.sha256_file(src_path)
        offline_state = os.path.join(
            self.deployment.state_path, dist.OFFLINE, 'offline-hypervisor',
            '%s.json' % dist.OFFLINE)

        def offline_disks():
            with open(offline_state) as f:
                return json.load(f)[server['id']]['disks']

        self.assertEqual(src_path,
                         offline_disks()['/dev/vdb']['data']['device_path'])

        # Running on a host without live storage migration: refused.
        target = '%s@array1#pool2' % dist.CINDER_HOST  # native copy
        self.cloud.migrate(volume['id'], target)
        refused = self.cloud.wait_migration(volume['id'])
        self.assertEqual('error', refused['migration_status'])
        self.assertEqual(src_path, self.cloud.volume_path(refused))
        self.assertEqual(digest, lv.sha256_file(src_path))
        self.assertEqual([], self.cloud.migrations(server['id']))

        # Stopped (by compute-offline), it migrates.
        self.cloud.nova.post('/servers/%s/action' % server['id'],
                             {'os-stop': None}, expect=202)
        self.cloud.wait_server(server['id'], 'SHUTOFF')
        self.cloud.migrate(volume['id'], target)
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        dst_path = self.cloud.volume_path(done)
        self.assertNotEqual(src_path, dst_path)
        self.assertEqual(digest, lv.sha256_file(dst_path))
        self.assertEqual(dst_path,
                         offline_disks()['/dev/vdb']['data']['device_path'])
        [record] = self.cloud.migrations(server['id'])
        self.assertEqual('completed', record['status'])
        end = notes.wait_for(
            'instance.volume_migration.end', where=lambda m: (
                m['payload']['nova_object.data']['instance_uuid'] ==
                server['id'] and
                m['payload']['nova_object.data']['action'] == 'complete'))
        self.assertEqual('nova-compute:%s' % dist.OFFLINE,
                         end['publisher_id'])
        self.assertEqual(dist.OFFLINE, end['payload']['nova_object.data'][
            'host'])
        # The instance on the other host was never touched.
        self.assertEqual('ACTIVE', self.cloud.server(live['id'])['status'])
        self.assertEqual([], self.cloud.migrations(live['id']))
