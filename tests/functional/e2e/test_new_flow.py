"""End to end on real libvirt + QEMU through nova-volmig-aio (issue 4).

Everything goes through the REST APIs: Cinder's migration flow calls Nova's
start, copies natively on the array, then complete (or cancel); guest
writes come from HMP qemu-io on the live disk. Data is proven by sha256.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess

from cinderclient import client as cinder_client
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from tests import base
from tests.functional.fixtures import aio as aio_fixtures
from tests.functional.fixtures import libvirt as lv
from tests.functional.fixtures import sparse

MiB = 1024 * 1024
GiB = 1024 * MiB


def fill_volume(path: str, seed: int, extents: int = 12,
                extent: int = 2 * MiB) -> None:
    """Random data in a few extents of a sparse 1 GiB volume file."""
    rnd = random.Random(seed)
    with open(path, 'r+b') as f:
        for _ in range(extents):
            f.seek(rnd.randrange(0, GiB - extent, MiB))
            f.write(rnd.randbytes(extent))


def read_file(path: str) -> bytearray:
    return sparse.read(path)


class E2ETestCase(base.TestCase):

    cinder_conf: dict = {}
    nova_conf: dict = {}
    volume_protocol = 'file'

    def setUp(self):
        super().setUp()
        self.aio = self.useFixture(aio_fixtures.Aio(
            self.state_file('aio'), protocol=self.volume_protocol,
            cinder_conf=self.cinder_conf, nova_conf=self.nova_conf))
        self.addOnException(self._attach_log)

    def _attach_log(self, exc_info):
        self.addDetail('aio-log', __import__('testtools').content.
                       text_content(self.aio.log_tail(200)))

    def attached_volume(self, seed: int = 1):
        """A running server with a 1 GiB volume holding some data."""
        server = self.aio.create_server()
        volume = self.aio.create_volume()
        fill_volume(self.aio.volume_path(volume), seed)
        att = self.aio.attach(server['id'], volume['id'])
        writer = aio_fixtures.HMPWriter(
            server['OS-EXT-SRV-ATTR:instance_name'], att['device'],
            read_file(self.aio.volume_path(volume)), seed=seed)
        self.addCleanup(writer.close)
        return server, self.aio.volume(volume['id']), writer

    def assertQemuDoesNotHold(self, server, path):
        pid = lv.qemu_pid(lv.FakeInstance(
            uuid=server['id'], name=server['OS-EXT-SRV-ATTR:instance_name']))
        self.assertNotIn(path, lv.open_paths(pid))


class TestNewFlow(E2ETestCase):

    # Slow enough to write and watch progress during the copy.
    cinder_conf = {'DEFAULT': {'migration_copy_bandwidth': 4 * MiB}}

    def test_running_instance_pool_to_pool(self):
        server, volume, writer = self.attached_volume()
        src_path = self.aio.volume_path(volume)
        writer.write_some(5)
        self.aio.migrate(volume['id'], 'aio@array1#pool2')
        progress = []

        def migrating_with_writes():
            v = self.aio.volume(volume['id'])
            if v['migration_status'] == 'migrating':
                progress.append(int(v['migration_progress']))
                writer.write_some(2)
            return v['migration_status'] in ('completing', 'success',
                                             'error')

        lv.wait_for(migrating_with_writes, timeout=120, interval=0.3,
                    what='copy phase')
        done = self.aio.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual(volume['id'], done['id'])
        self.assertEqual('aio@array1#pool2', done['os-vol-host-attr:host'])
        self.assertEqual('in-use', done['status'])
        self.assertGreater(len(progress), 2, progress)
        self.assertEqual(sorted(progress), progress)
        self.assertLess(progress[0], progress[-1])
        # Invariant 2: dst == src-at-start + every acknowledged write.
        self.aio.wait_nova_settled(server['id'])
        writer.write_some(3)  # and the guest goes on writing to dst
        dst_path = self.aio.volume_path(done)
        self.assertNotEqual(src_path, dst_path)
        self.assertFalse(os.path.exists(src_path))
        self.assertQemuDoesNotHold(server, src_path)
        self.assertEqual(writer.sha256(), lv.sha256_file(dst_path))
        record = self.aio.nova.get('/os-volume-migrations?instance_uuid=%s'
                                   % server['id']).json()
        self.assertEqual(['completed'], [m['status'] for m in
                                         record['volume_migrations']])

    def test_progress_visibility(self):
        server, volume, writer = self.attached_volume()
        self.aio.migrate(volume['id'], 'aio@array1#pool2')
        lv.wait_for(lambda: self.aio.volume(volume['id'])
                    ['migration_status'] == 'migrating', what='migrating')
        at_372 = self.aio.volume(volume['id'])
        self.assertIn('migration_progress', at_372)
        at_371 = self.aio.cinder.get(
            '/volumes/%s' % volume['id'],
            headers={'OpenStack-API-Version': 'volume 3.71'}).json()
        self.assertEqual('migrating', at_371['volume']['migration_status'])
        self.assertNotIn('migration_progress', at_371['volume'])
        member = self.aio.cinder.get(
            '/volumes/%s' % volume['id'],
            headers={'X-Auth-Token': 'alice:admin', 'X-Roles': 'member'})
        self.assertEqual(200, member.status_code, member.text)
        self.assertNotIn('migration_progress', member.json()['volume'])
        self.assertNotIn('migration_status', member.json()['volume'])
        self.assertEqual('success', self.aio.wait_migration(
            volume['id'])['migration_status'])


class TestCopyFailure(E2ETestCase):
    """A real ENOSPC mid-copy: pool2 of array2 is a 16 MiB tmpfs."""

    def setUp(self):
        self.tmpfs = None
        super().setUp()

    def _small_pool(self) -> str:
        path = self.state_file('tiny-pool')
        os.makedirs(path)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=16m', 'tmpfs',
                        path], check=True)
        self.addCleanup(subprocess.run, ['umount', '-l', path])
        return path

    def test_copy_failure_cancels_and_keeps_src(self):
        tiny = self._small_pool()
        self.aio.stop()
        self.aio.cinder_conf = {'array2': {'pools': 'pool1:%s' % tiny}}
        self.aio.start()
        server, volume, writer = self.attached_volume()
        src_path = self.aio.volume_path(volume)
        writer.write_some(4)
        self.aio.migrate(volume['id'], 'aio@array2#pool1')
        done = self.aio.wait_migration(volume['id'])
        self.assertEqual('error', done['migration_status'])
        self.assertEqual('aio@array1#pool1', done['os-vol-host-attr:host'])
        self.assertEqual([], os.listdir(tiny))  # dst removed
        record = self.aio.nova.get(
            '/os-volume-migrations?instance_uuid=%s' % server['id']).json()
        lv.wait_for(lambda: self.aio.nova.get(
            '/os-volume-migrations?instance_uuid=%s' % server['id']).json()
            ['volume_migrations'][-1]['status'] == 'cancelled',
            what='Nova cancel finished')
        self.assertTrue(record['volume_migrations'])
        self.aio.wait_server(server['id'], 'ACTIVE')
        self.aio.wait_nova_settled(server['id'])
        # Invariant 3: src holds src-at-start + every write, and keeps
        # taking writes; the instance is usable and migratable again.
        writer.write_some(3)
        self.assertEqual(writer.sha256(), lv.sha256_file(src_path))
        self.aio.migrate(volume['id'], 'aio@array1#pool2')
        again = self.aio.wait_migration(volume['id'])
        self.assertEqual('success', again['migration_status'])
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.aio.volume_path(again)))
        self.aio.nova.post('/servers/%s/action' % server['id'],
                           {'os-stop': None}, expect=202)
        self.aio.wait_server(server['id'], 'SHUTOFF')


class TestOtherMigrations(E2ETestCase):

    def test_detached_volume_and_on_demand_retype(self):
        volume = self.aio.create_volume()
        path = self.aio.volume_path(volume)
        fill_volume(path, seed=7)
        digest = lv.sha256_file(path)
        self.aio.migrate(volume['id'], 'aio@array2#pool1')
        done = self.aio.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual('aio@array2#pool1', done['os-vol-host-attr:host'])
        self.assertEqual(digest, lv.sha256_file(self.aio.volume_path(done)))
        self.assertFalse(os.path.exists(path))
        # Retype to a type whose backend is array1: an on-demand migration.
        vtype = self.aio.cinder.post('/types', {'volume_type': {
            'name': 'fast', 'extra_specs': {
                'volume_backend_name': 'array1'}}}, expect=200
        ).json()['volume_type']
        self.aio.cinder.post('/volumes/%s/action' % volume['id'], {
            'os-retype': {'new_type': vtype['name'],
                          'migration_policy': 'on-demand'}}, expect=202)
        done = self.aio.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual('fast', done['volume_type'])
        self.assertTrue(done['os-vol-host-attr:host'].startswith(
            'aio@array1#'))
        self.assertEqual(digest, lv.sha256_file(self.aio.volume_path(done)))

    def test_multiattach_and_already_migrating_refused(self):
        volume = self.aio.create_volume(multiattach=True)
        server = self.aio.create_server()
        resp = self.aio.nova.post(
            '/servers/%s/os-volume_attachments' % server['id'],
            {'volumeAttachment': {'volumeId': volume['id']}})
        self.assertEqual(409, resp.status_code, resp.text)
        self.assertIn('multiattach', resp.text)
        # Attached elsewhere (an attachment made on Cinder directly), a
        # multiattach volume is refused by Cinder itself too.
        resp = self.aio.cinder.post('/attachments', {'attachment': {
            'volume_uuid': volume['id'], 'instance_uuid': server['id'],
            'connector': {'host': 'another-compute'}}})
        self.assertEqual(200, resp.status_code, resp.text)
        resp = self.aio.cinder.post(
            '/attachments/%s/action' % resp.json()['attachment']['id'],
            {'os-complete': None})
        self.assertEqual(204, resp.status_code, resp.text)
        self.assertEqual('in-use', self.aio.volume(volume['id'])['status'])
        resp = self.aio.cinder.post(
            '/volumes/%s/action' % volume['id'],
            {'os-migrate_volume': {'host': 'aio@array1#pool2'}})
        self.assertEqual(400, resp.status_code, resp.text)
        self.assertIn('multiattach', resp.json()['badRequest']['message'])
        self.assertIsNone(self.aio.volume(volume['id'])['migration_status'])
        server, volume, writer = self.attached_volume()
        self.aio.stop()
        self.aio.cinder_conf = {'DEFAULT': {
            'migration_copy_bandwidth': 1 * MiB}}
        self.aio.start()
        self.aio.migrate(volume['id'], 'aio@array1#pool2')
        resp = self.aio.cinder.post(
            '/volumes/%s/action' % volume['id'],
            {'os-migrate_volume': {'host': 'aio@array2#pool1'}})
        self.assertEqual(400, resp.status_code, resp.text)
        self.assertIn('migrat', resp.json()['badRequest']['message'])

    def test_legacy_swap_end_to_end(self):
        self.aio.stop()
        self.aio.cinder_conf = {'DEFAULT': {
            'attached_migration_mode': 'legacy'}}
        self.aio.start()
        server, volume, writer = self.attached_volume()
        src_path = self.aio.volume_path(volume)
        writer.write_some(5)
        self.aio.migrate(volume['id'], 'aio@array1#pool2')
        done = self.aio.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual(volume['id'], done['id'])
        self.assertEqual('aio@array1#pool2', done['os-vol-host-attr:host'])
        dst_path = self.aio.volume_path(done)
        self.assertFalse(os.path.exists(src_path))
        self.assertQemuDoesNotHold(server, src_path)
        self.aio.wait_nova_settled(server['id'])
        writer.write_some(3)
        self.assertEqual(writer.sha256(), lv.sha256_file(dst_path))
        attachments = self.aio.nova.get(
            '/servers/%s/os-volume_attachments' % server['id']).json()
        self.assertEqual([volume['id']], [a['volumeId'] for a in
                                          attachments['volumeAttachments']])
        self.assertEqual([], self.aio.nova.get(
            '/os-volume-migrations?instance_uuid=%s' % server['id']
        ).json()['volume_migrations'])
        # The BDM, like the domain, is on dst.
        self.assertEqual(dst_path, self.aio.bdm_connection_info(
            server['id'], volume['id'])['data']['device_path'])

    def test_python_cinderclient(self):
        server, volume, writer = self.attached_volume()
        # noauth with an endpoint override, the client unchanged.
        auth = token_endpoint.Token(self.aio.info['volume'] + '/admin',
                                    'admin:admin')
        for version in ('3.71', '3.72'):
            client = cinder_client.Client(
                version, session=ks_session.Session(auth=auth))
            shown = client.volumes.get(volume['id'])
            self.assertEqual(volume['id'], shown.id)
            self.assertIsNone(shown.migration_status)
        client.volumes.migrate_volume(volume['id'], 'aio@array1#pool2',
                                      force_host_copy=False,
                                      lock_volume=False)
        done = self.aio.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.aio.volume_path(done)))


class TestAioLifecycle(E2ETestCase):

    def test_sigterm_stops_cleanly(self):
        self.assertEqual(0, self.aio.stop())
        self.aio.start()
        self.aio.create_server()
        self.assertEqual(0, self.aio.stop())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
