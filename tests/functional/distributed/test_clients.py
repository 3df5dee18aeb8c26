"""Real OpenStack clients from PyPI, unchanged, against the deployment.

noauth with endpoint overrides: the Python APIs take keystoneauth's
``token_endpoint``/``admin_token`` plugins with a ``<user>:<project>``
token; the ``nova`` and ``cinder`` command lines take the ``noauth``
keystoneauth plugin that python-cinderclient ships (``cinder
--os-auth-type noauth --os-user-id admin --os-project-id admin
--os-endpoint URL``; ``nova --os-auth-type noauth --user-id admin
--project-id admin --endpoint URL --os-endpoint-override URL`` with an
unused ``OS_AUTH_URL``).
"""

from __future__ import annotations

import os
import subprocess
import sys

from cinderclient import client as cinder_client
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from novaclient import client as nova_client
from novaclient import exceptions as nova_exc
import openstack

from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import libvirt as lv

MiB = 1024 * 1024
BIN = os.path.dirname(sys.executable)


def run_cli(argv: list[str], **env: str) -> str:
    """A client CLI with a clean environment (no OS_* from the caller)."""
    env['PATH'] = os.environ.get('PATH', '/usr/bin:/bin')
    result = subprocess.run(argv, env=env, capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise AssertionError('%s exited %d:\n%s\n%s' % (
            ' '.join(argv), result.returncode, result.stdout, result.stderr))
    return result.stdout


class TestNovaClients(dist.DistributedTestCase):
    """python-novaclient (CLI and Python API) and openstacksdk compute.

    ``nova volume-update`` is upstream's legacy swap, which only Cinder may
    ask for (the old volume must be mid-migration). cinder-volmig runs its
    legacy flow behind :class:`fixtures.SwapRecorder`, which holds back the
    swap request Cinder sends; the test sends that swap with the nova CLI,
    as upstream Cinder does through python-novaclient. Nova then mirrors,
    pivots and calls Cinder back for real.
    """

    @classmethod
    def setUpClass(cls):
        cls.recorder = dist.SwapRecorder()
        cls.recorder.start()
        cls.settings = {'cinder_overrides': {
            'DEFAULT': {'attached_migration_mode': 'legacy'},
            'nova': {'endpoint': cls.recorder.endpoint}}}
        try:
            super().setUpClass()
        except BaseException:
            cls.recorder.stop()
            raise
        cls.recorder.target = cls.deployment.nova_endpoint

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.recorder.stop()

    def nova_cli(self, *args: str) -> str:
        endpoint = self.deployment.nova_endpoint
        return run_cli([os.path.join(BIN, 'nova'),
                        '--os-auth-type', 'noauth', '--user-id', 'admin',
                        '--project-id', 'admin', '--endpoint', endpoint,
                        '--os-endpoint-override', endpoint,
                        '--os-compute-api-version', '2.96', *args],
                       # novaclient insists on one; noauth never calls it
                       OS_AUTH_URL=endpoint)

    def test_nova_cli_volume_update_drives_the_legacy_swap(self):
        server, volume, writer = self.attached_volume()
        src_path = self.cloud.volume_path(volume)
        writer.write_some(5)
        self.assertIn(server['id'], self.nova_cli('list'))
        self.assertIn(volume['id'], self.nova_cli('volume-attachments',
                                                  server['id']))
        self.cloud.migrate(volume['id'], '%s@array1#pool2' % dist.CINDER_HOST)
        path, _method, body = lv.wait_for(
            lambda: self.recorder.swaps and self.recorder.swaps[-1],
            what='Cinder\'s swap request')
        *_, server_id, _att, old_id = path.split('/')
        self.assertEqual((server['id'], volume['id']), (server_id, old_id))
        new_id = body['volumeAttachment']['volumeId']
        self.assertEqual('migrating', self.cloud.volume(volume['id'])
                         ['migration_status'])
        # What upstream Cinder's novaclient call does, from the CLI.
        self.nova_cli('volume-update', server_id, old_id, new_id)
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual(volume['id'], done['id'])
        dst_path = self.cloud.volume_path(done)
        self.assertNotEqual(src_path, dst_path)
        self.assertFalse(os.path.exists(src_path))
        writer.write_some(3)
        self.assertEqual(writer.sha256(), lv.sha256_file(dst_path))
        # The swap is not a volume migration of the new API.
        self.assertEqual([], self.cloud.migrations(server['id']))
        self.assertIn(volume['id'], self.nova_cli('volume-attachments',
                                                  server['id']))

    def test_novaclient_python_api_and_openstacksdk(self):
        server, volume, _writer = self.attached_volume(seed=5)
        endpoint = self.deployment.nova_endpoint
        session = ks_session.Session(
            auth=token_endpoint.Token(endpoint, 'admin:admin'))
        nova = nova_client.Client('2.96', session=session)
        self.assertIn(server['id'], [s.id for s in nova.servers.list()])
        shown = nova.servers.get(server['id'])
        self.assertEqual('ACTIVE', shown.status)
        self.assertEqual(dist.LIVE,
                         getattr(shown, 'OS-EXT-SRV-ATTR:host'))
        attachments = nova.volumes.get_server_volumes(server['id'])
        self.assertEqual([volume['id']], [a.volumeId for a in attachments])
        # Not under a Cinder migration: swap refused, nothing changes.
        other = self.cloud.create_volume(size_bytes=dist.VOLUME_MIB * MiB)
        e = self.assertRaises(nova_exc.Conflict,
                              nova.volumes.update_server_volume,
                              server['id'], volume['id'], other['id'])
        self.assertIn('not being migrated by Cinder', str(e))

        conn = openstack.connect(
            auth_type='admin_token',
            auth={'endpoint': endpoint, 'token': 'admin:admin'},
            compute_endpoint_override=endpoint,
            block_storage_endpoint_override=(
                self.deployment.cinder_endpoint + '/admin'),
            compute_api_version='2', block_storage_api_version='3')
        self.addCleanup(conn.close)
        found = conn.compute.get_server(server['id'])
        self.assertEqual(dist.LIVE, found.compute_host)
        self.assertIn(server['id'], [s.id for s in conn.compute.servers()])
        attached = list(conn.compute.volume_attachments(found))
        self.assertEqual([volume['id']], [a.volume_id for a in attached])
        self.assertEqual(self.cloud.attachment_id(server['id'],
                                                  volume['id']),
                         attached[0].attachment_id)
        stored = conn.block_storage.get_volume(volume['id'])
        self.assertEqual('in-use', stored.status)
        self.assertEqual(server['id'], stored.attachments[0]['server_id'])


class TestStorageClients(dist.DistributedTestCase):
    """python-cinderclient and openstacksdk block storage, new flow."""

    settings = {'cinder_overrides': {
        'DEFAULT': {'migration_copy_bandwidth': 2 * MiB}}}

    def cinder(self, version: str = '3.72'):
        auth = token_endpoint.Token(self.deployment.cinder_endpoint +
                                    '/admin', 'admin:admin')
        return cinder_client.Client(version,
                                    session=ks_session.Session(auth=auth))

    def cinder_cli(self, *args: str) -> str:
        return run_cli([os.path.join(BIN, 'cinder'),
                        '--os-auth-type', 'noauth', '--os-user-id', 'admin',
                        '--os-project-id', 'admin',
                        '--os-endpoint', self.deployment.cinder_endpoint,
                        '--os-volume-api-version', '3.71', *args])

    def test_cinderclient_show_and_migrate(self):
        server, volume, writer = self.attached_volume(seed=7)
        writer.write_some(4)
        client = self.cinder()
        shown = client.volumes.get(volume['id'])
        self.assertIsNone(shown.migration_status)
        client.volumes.migrate_volume(volume['id'],
                                      '%s@array1#pool2' % dist.CINDER_HOST,
                                      force_host_copy=False,
                                      lock_volume=False)
        migrating = lv.wait_for(
            lambda: (lambda v: v if v.migration_status == 'migrating'
                     else None)(client.volumes.get(volume['id'])),
            what='migrating')
        self.assertTrue(migrating.migration_progress.isdigit())
        at_371 = self.cinder('3.71').volumes.get(volume['id'])
        self.assertFalse(hasattr(at_371, 'migration_progress'))
        self.assertIn('migrating', self.cinder_cli('show', volume['id']))
        # Nova's side of it, seen through the REST API meanwhile.
        [nova_record] = self.cloud.migrations(server['id'])
        self.assertEqual('running', nova_record['status'])
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual('success',
                         client.volumes.get(volume['id']).migration_status)
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.cloud.volume_path(done)))

    def test_openstacksdk_block_storage_migrate(self):
        server, volume, writer = self.attached_volume(seed=8)
        conn = openstack.connect(
            auth_type='admin_token',
            auth={'endpoint': self.deployment.nova_endpoint,
                  'token': 'admin:admin'},
            block_storage_endpoint_override=(
                self.deployment.cinder_endpoint + '/admin'),
            block_storage_api_version='3')
        self.addCleanup(conn.close)
        conn.block_storage.migrate_volume(
            volume['id'], host='%s@array1#pool2' % dist.CINDER_HOST)
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        stored = conn.block_storage.get_volume(volume['id'])
        self.assertEqual('%s@array1#pool2' % dist.CINDER_HOST, stored.host)
        self.assertEqual('success', stored.migration_status)
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.cloud.volume_path(done)))
