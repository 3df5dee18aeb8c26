"""python-cinderclient against a running CinderService (fake Nova)."""

import os
import subprocess
import time

from cinderclient import client as cinder_client
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import psutil

from tests.unit.cinder import base

INSTANCE = '11111111-2222-3333-4444-555555555555'
MiB = 1024 * 1024


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True)


class CinderClientTest(base.CinderTestCase):

    def client(self, version='3.72', token='admin:p1'):
        auth = token_endpoint.Token(self.svc.endpoint + '/p1', token)
        return cinder_client.Client(version, session=ks_session.Session(
            auth=auth))

    def full_volume(self, size=16 * MiB) -> str:
        volume_id = self.create_volume(size)
        with open(self.path_of(volume_id), 'r+b') as f:
            f.write(os.urandom(size))
        return volume_id

    def test_show_migration_fields_by_version(self):
        volume_id = self.full_volume()
        self.svc.manager.arrays['array1'].copy_bandwidth = 8 * MiB
        att = self.nova.attach(volume_id, INSTANCE)
        before = base.read(self.path_of(volume_id))
        old = self.client('3.0').volumes.get(volume_id)
        self.assertIsNone(old.migration_status)
        self.client().volumes.migrate_volume(volume_id, 'aio@array1#pool2',
                                             False, False)
        seen = []
        c372, c371 = self.client(), self.client('3.71')
        member = self.client(token='alice:p1')
        while True:
            volume = c372.volumes.get(volume_id)
            if volume.migration_status == 'migrating' and \
                    hasattr(volume, 'migration_progress'):
                seen.append(int(volume.migration_progress))
                self.assertFalse(hasattr(c371.volumes.get(volume_id),
                                         'migration_progress'))
                self.assertFalse(hasattr(member.volumes.get(volume_id),
                                         'migration_status'))
            if volume.migration_status in ('success', 'error'):
                break
            time.sleep(0.1)
        self.assertEqual('success', volume.migration_status)
        self.assertFalse(hasattr(volume, 'migration_progress'))
        self.assertEqual(sorted(seen), seen)
        self.assertGreater(len(set(seen)), 2, seen)
        self.assertEqual('aio@array1#pool2',
                         getattr(volume, 'os-vol-host-attr:host'))
        self.assertEqual(before, base.read(self.path_of(volume_id)))
        self.assertEqual('completed', self.nova.migrations[att]['status'])

    def test_cancel_through_the_action_body(self):
        """python-cinderclient has no cancel call: its _action sends it."""
        volume_id = self.full_volume()
        self.svc.manager.arrays['array1'].copy_bandwidth = 1 * MiB
        att = self.nova.attach(volume_id, INSTANCE)
        before = base.read(self.path_of(volume_id))
        client = self.client()
        client.volumes.migrate_volume(volume_id, 'aio@array1#pool2',
                                      False, False)
        self.wait_status(volume_id, 'migrating')
        client.volumes._action('os-migrate_volume_cancel', volume_id)
        volume = self.wait_done(volume_id)
        self.assertEqual('cancelled', volume['migration_status'])
        self.assertEqual(before, base.read(self.path_of(volume_id)))
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        self.assertEqual([], self.pool_files())

    def test_copy_failure_on_full_pool(self):
        """A real ENOSPC mid-copy: Nova cancel, src intact, dst gone."""
        pool = self.cconf['array2'].pools['pool1']
        if run(['mount', '-t', 'tmpfs', '-o', 'size=6m', 'tmpfs',
                pool]).returncode:
            self.fail('cannot mount a tmpfs on %s' % pool)
        self.addCleanup(run, ['umount', '-l', pool])
        volume_id = self.full_volume()
        self.svc.manager.arrays['array1'].copy_bandwidth = 16 * MiB
        att = self.nova.attach(volume_id, INSTANCE)
        src_path = self.path_of(volume_id)
        guest = self.nova.guests[att]
        self.client().volumes.migrate_volume(volume_id, 'aio@array2#pool1',
                                             False, False)
        self.wait_status(volume_id, 'migrating')
        guest.write(4096, b'written during the copy')
        volume = self.wait_done(volume_id)
        self.assertEqual('error', volume['migration_status'])
        self.assertEqual(['starting', 'migrating', 'error'],
                         self.history[volume_id])
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        with open(src_path, 'rb') as f:
            f.seek(4096)
            self.assertEqual(b'written during the copy', f.read(23))
        self.assertEqual([], os.listdir(pool))
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertIn('No space left on device', record.error)
        # Still usable and migratable again.
        guest.write(0, b'after')
        expected = base.read(src_path)
        self.client().volumes.migrate_volume(volume_id, 'aio@array1#pool2',
                                             False, False)
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual(expected, base.read(self.path_of(volume_id)))


class NBDServiceTest(base.CinderTestCase):
    protocol = 'nbd'

    def test_nbd_attachment_serves_and_stops(self):
        volume_id = self.create_volume()
        status, body = self.api('POST', '/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': INSTANCE,
            'connector': {'host': 'compute1'}}})
        self.assertEqual(200, status, body)
        info = body['attachment']['connection_info']
        self.assertEqual('nbd', info['driver_volume_type'])
        self.assertEqual('volume-%s' % volume_id, info['data']['export'])
        url = 'nbd://%s:%d/%s' % (info['data']['host'], info['data']['port'],
                                  info['data']['export'])
        out = run(['qemu-io', '-f', 'raw', '-c', 'read -P 0x5a 0 1M', url])
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertNotIn('Pattern verification failed', out.stdout)
        exporter = self.svc.manager.arrays['array1'].exporter
        pid = exporter.get_export('volume-%s' % volume_id).pid
        self.api('DELETE', '/attachments/%s' % body['attachment']['id'])
        self.assertIsNone(exporter.get_export('volume-%s' % volume_id))
        try:
            argv = psutil.Process(pid).cmdline()
        except psutil.NoSuchProcess:
            argv = []
        self.assertNotIn('qemu-storage-daemon', ' '.join(argv))


class VolmigCLITest(base.CinderTestCase):

    def test_migrate_wait_and_show(self):
        from cinder_driver_side.cmd import client
        volume_id = self.create_volume()
        args = ['--os-endpoint', self.svc.endpoint, 'migrate', volume_id,
                '--host', 'aio@array1#pool2', '--wait']
        self.assertEqual(0, client.main(args))
        self.assertEqual(0, client.main(['--os-endpoint', self.svc.endpoint,
                                         'show', volume_id]))
        self.assertEqual(2, client.main(['--os-endpoint', self.svc.endpoint,
                                         'migrate', volume_id, '--host',
                                         'aio@array1#pool2']))

    def test_pools_lists_the_deployment_pools(self):
        import contextlib
        import io

        from cinder_driver_side.cmd import client
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(0, client.main(['--os-endpoint',
                                             self.svc.endpoint, 'pools']))
        self.assertEqual(['aio@array1#pool1', 'aio@array1#pool2',
                          'aio@array2#pool1'], out.getvalue().split())
