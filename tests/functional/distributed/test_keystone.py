"""The distributed deployment behind a real Keystone.

Tokens are Keystone's fernet tokens, validated by keystonemiddleware in
nova-volmig-api and cinder-volmig; Cinder reaches Nova (start, complete)
and Nova reaches Cinder (attachments) as their service users; policies
are enforced on the roles these tokens carry. The clients are the real
ones from PyPI with password authentication.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from cinderclient import client as cinder_client
from novaclient import client as nova_client
import openstack
import requests

from tests import base
from tests.functional.distributed import auth_fixtures
from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import libvirt as lv
from volmig_distributed import deployment as dep

MiB = 1024 * 1024
BIN = os.path.dirname(sys.executable)
POOL1 = '%s@array1#pool1' % dist.CINDER_HOST
POOL2 = '%s@array1#pool2' % dist.CINDER_HOST
#: keystonemiddleware's answer to a missing, garbage or expired token
UNAUTHORIZED = 'The request you have made requires authentication.'


class TestKeystone(auth_fixtures.KeystoneTestCase):

    def assert_unauthorized(self, resp) -> None:
        self.assertEqual(401, resp.status_code, resp.text)
        self.assertEqual({'error': {'code': 401, 'title': 'Unauthorized',
                                    'message': UNAUTHORIZED}}, resp.json())
        # Where to get a token: the Keystone of this deployment.
        self.assertIn(self.deployment.keystone.auth_url,
                      resp.headers['WWW-Authenticate'])

    def test_tokens_issued_and_validated(self):
        admin = self.session('admin')
        token = admin.get_token()
        # Keystone itself validates it...
        shown = admin.get('/auth/tokens', headers={'X-Subject-Token': token},
                          endpoint_filter={'service_type': 'identity'}
                          ).json()['token']
        self.assertEqual('admin', shown['project']['name'])
        self.assertIn('admin', [r['name'] for r in shown['roles']])
        # ... and so do both services, with keystonemiddleware.
        self.cloud.nova.get('/servers', expect=200)
        self.cloud.cinder.get('/volumes', expect=200)
        # A member's token too, for the member's own project.
        member = auth_fixtures.identity.MEMBER_USER
        self.rest(member, 'compute').get('/servers', expect=200)
        self.rest(member, 'volume').get('/volumes', expect=200)

    def test_missing_garbage_expired_and_revoked_tokens_answer_401(self):
        admin = self.session('admin')
        revoked = self.deployment.keystone.session(
            'admin', auth_fixtures.identity.ADMIN_PASSWORD, 'admin')
        revoked_token = revoked.get_token()
        admin.delete('/auth/tokens', headers={'X-Subject-Token':
                                              revoked_token},
                     endpoint_filter={'service_type': 'identity'})
        tokens = {'garbage': 'garbage-%s' % uuid.uuid4().hex,
                  'expired': self.expired_token('admin'),
                  'revoked': revoked_token}
        project = admin.get_project_id()
        for api, path in ((self.deployment.nova_endpoint, '/servers'),
                          (self.deployment.nova_endpoint,
                           '/os-volume-migrations'),
                          (self.deployment.cinder_endpoint,
                           '/%s/volumes' % project)):
            self.assert_unauthorized(_get(api + path, None))
            for kind, token in tokens.items():
                with self.subTest(api=api, path=path, token=kind):
                    self.assert_unauthorized(_get(api + path, token))

    def test_member_refused_every_volume_migration_call(self):
        member = auth_fixtures.identity.MEMBER_USER
        nova = self.rest(member, 'compute')
        cinder = self.rest(member, 'volume')
        # The member's own server and volume, attached by the member.
        server = nova.post('/servers', {'server': {'name': 'mine'}},
                           expect=202).json()['server']
        self.addCleanup(self.cloud._delete_domain, server['id'])
        volume = cinder.post('/volumes', {'volume': {'size': 1}},
                             expect=202).json()['volume']
        self.use_cloud_as(member)
        self.cloud.wait_server(server['id'], 'ACTIVE')
        self.cloud.wait_volume(volume['id'], 'available')
        self.cloud.attach(server['id'], volume['id'])
        att_id = self.cloud.attachment_id(server['id'], volume['id'])
        calls = [
            ('POST', '/os-volume-migrations',
             {'volume_migration': {'src_attachment_id': att_id}}),
            ('GET', '/os-volume-migrations', None),
            ('GET', '/os-volume-migrations?instance_uuid=%s' % server['id'],
             None),
            ('GET', '/os-volume-migrations/%s' % att_id, None),
            ('POST', '/os-volume-migrations/%s/action' % att_id,
             {'complete': {'dst_attachment_id': str(uuid.uuid4())}}),
            ('POST', '/os-volume-migrations/%s/action' % att_id,
             {'cancel': None}),
            # Legacy swap: Cinder's (the service's) call only.
            ('PUT', '/servers/%s/os-volume_attachments/%s'
             % (server['id'], volume['id']),
             {'volumeAttachment': {'volumeId': str(uuid.uuid4())}}),
        ]
        for method, path, body in calls:
            with self.subTest(method=method, path=path):
                resp = nova.request(method, path, body)
                self.assertEqual(403, resp.status_code, resp.text)
                self.assertEqual(403, resp.json()['forbidden']['code'])
        action = '/volumes/%s/action' % volume['id']
        for method, path, body in [
                ('POST', action, {'os-migrate_volume': {'host': POOL2}}),
                ('POST', action, {'os-migrate_volume_completion': {
                    'new_volume': str(uuid.uuid4())}}),
                ('GET', '/volumes/%s/migration' % volume['id'], None)]:
            with self.subTest(method=method, path=path):
                resp = cinder.request(method, path, body)
                self.assertEqual(403, resp.status_code, resp.text)
        # Nothing started; the admin's token may.
        self.use_cloud_as('admin')
        self.assertEqual([], self.cloud.migrations(server['id']))

    def test_member_sees_no_migration_fields(self):
        member = auth_fixtures.identity.MEMBER_USER
        cinder = self.rest(member, 'volume')
        volume = cinder.post('/volumes', {'volume': {'size': 1}},
                             expect=202).json()['volume']
        self.use_cloud_as(member)
        self.cloud.wait_volume(volume['id'], 'available')
        # The admin migrates the member's detached volume.
        self.use_cloud_as('admin')
        admin_cinder = self.cloud.cinder
        member_url = admin_cinder.endpoint.rsplit('/', 1)[0] + '/' + \
            self.session(member).get_project_id()
        admin_cinder.endpoint = member_url
        self.cloud.migrate(volume['id'], POOL2)
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual(POOL2, done['os-vol-host-attr:host'])
        mine = cinder.get('/volumes/%s' % volume['id'],
                          expect=200).json()['volume']
        hidden = [k for k in mine if 'mig' in k or 'host' in k]
        self.assertEqual([], hidden, mine)

    def test_another_projects_server_and_volume_are_404(self):
        server = self.cloud.create_server_on(dist.OFFLINE)
        volume = self.cloud.create_volume(size_bytes=dist.VOLUME_MIB * MiB)
        member = auth_fixtures.identity.MEMBER_USER
        nova = self.rest(member, 'compute')
        cinder = self.rest(member, 'volume')
        for path in ('/servers/%s' % server['id'],
                     '/servers/%s/os-volume_attachments' % server['id']):
            with self.subTest(path=path):
                resp = nova.get(path)
                self.assertEqual(404, resp.status_code, resp.text)
                self.assertEqual(404, resp.json()['itemNotFound']['code'])
        self.assertEqual(404, cinder.get('/volumes/%s' % volume['id']
                                         ).status_code)

    def test_service_users_carry_the_migration_both_ways(self):
        """Cinder -> Nova (start, complete) and Nova -> Cinder, on tokens.

        The admin only asks Cinder to migrate; cinder-volmig calls Nova's
        volume-migration API as its service user ``cinder`` and
        nova-volmig as ``nova`` creates and completes Cinder attachments.
        """
        server, volume, writer = self.attached_volume(seed=3)
        writer.write_some(4)
        self.cloud.migrate(volume['id'], POOL2)
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        [record] = self.cloud.migrations(server['id'])
        self.assertEqual('completed', record['status'])
        writer.write_some(2)
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.cloud.volume_path(done)))
        # The service role alone is enough for both APIs' migration calls.
        for service in ('cinder', 'watcher'):
            nova = self.rest(service, 'compute')
            self.assertEqual(
                'completed', nova.get('/os-volume-migrations/%s'
                                      % record['src_attachment_id'],
                                      expect=200).json()
                ['volume_migration']['status'])
        # Nova's service user sees Cinder's migration fields.
        cinder = self.rest('nova', 'volume')
        self.assertEqual('success', cinder.get(
            '/volumes/%s' % volume['id'], expect=200).json()
            ['volume']['migration_status'])

    def test_clients_with_password_auth(self):
        server = self.cloud.create_server_on(dist.OFFLINE)
        volume = self.cloud.create_volume(size_bytes=dist.VOLUME_MIB * MiB)
        session = self.session('admin')
        nova = nova_client.Client('2.96', session=session)
        self.assertIn(server['id'], [s.id for s in nova.servers.list()])
        cinder = cinder_client.Client('3.72', session=session)
        shown = cinder.volumes.get(volume['id'])
        self.assertEqual('available', shown.status)
        self.assertIsNone(shown.migration_status)
        env = auth_fixtures.openrc(self.deployment, 'admin')
        conn = openstack.connect(
            auth_url=env['OS_AUTH_URL'], username='admin',
            password=env['OS_PASSWORD'], project_name='admin',
            user_domain_name='Default', project_domain_name='Default',
            region_name=env['OS_REGION_NAME'])
        self.addCleanup(conn.close)
        self.assertEqual(dist.OFFLINE,
                         conn.compute.get_server(server['id']).compute_host)
        self.assertEqual('available',
                         conn.block_storage.get_volume(volume['id']).status)
        out = run_openstack(env, 'server', 'show', server['id'], '-c', 'id',
                            '-f', 'value')
        self.assertEqual(server['id'], out.strip())
        out = run_openstack(env, 'volume', 'show', volume['id'], '-c',
                            'status', '-f', 'value')
        self.assertEqual('available', out.strip())
        # The member's password works; the admin's server stays hidden.
        member_env = auth_fixtures.openrc(self.deployment,
                                          auth_fixtures.identity.MEMBER_USER)
        self.assertNotIn(server['id'],
                         run_openstack(member_env, 'server', 'list'))

    def test_openstack_cli_volume_migration_plugin(self):
        """``openstack server volume migration`` and ``volume migration``.

        The plugin (volmig_osc) of the real openstack CLI, password auth.
        """
        server, volume, writer = self.attached_volume(seed=13)
        writer.write_some(2)
        env = auth_fixtures.openrc(self.deployment, 'admin')
        self.cloud.migrate(volume['id'], POOL2)
        shown = json.loads(run_openstack(
            env, 'volume', 'migration', 'show', volume['id'], '--wait',
            '-f', 'json'))
        self.assertEqual(('success', 'success', 'attached', '100'),
                         (shown['status'], shown['migration_status'],
                          shown['kind'], shown['progress']))
        self.assertEqual(POOL2, shown['dest_host'])
        listed = json.loads(run_openstack(
            env, 'server', 'volume', 'migration', 'list', '--server',
            server['id'], '-f', 'json'))
        self.assertEqual([(shown['src_attachment_id'], volume['id'],
                           server['id'])],
                         [(r['src_attachment_id'], r['volume_id'],
                           r['instance_uuid']) for r in listed])
        record = json.loads(run_openstack(
            env, 'server', 'volume', 'migration', 'show',
            shown['src_attachment_id'], '--wait', '-f', 'json'))
        self.assertEqual(('completed', shown['dst_attachment_id']),
                         (record['status'], record['dst_attachment_id']))
        self.cloud.wait_migration(volume['id'])
        writer.write_some(1)
        self.assertEqual(writer.sha256(), lv.sha256_file(
            self.cloud.volume_path(self.cloud.volume(volume['id']))))
        # A second migration, slowed to 256 KiB/s, cancelled through the
        # CLI: the volume stays where it is, with every write.
        self.cloud.migrate(volume['id'], POOL1, bandwidth=256 * 1024)
        lv.wait_for(lambda: self.cloud.volume(volume['id'])[
            'migration_status'] == 'migrating', timeout=60,
            what='a slowed migration copying')
        cancelled = json.loads(run_openstack(
            env, 'volume', 'migration', 'cancel', volume['id'], '--wait',
            '-f', 'json'))
        host = self.cloud.volume(volume['id'])['os-vol-host-attr:host']
        self.assertEqual(('cancelled', POOL2),
                         (cancelled['migration_status'], host))
        writer.write_some(1)
        self.assertEqual(writer.sha256(), lv.sha256_file(
            self.cloud.volume_path(self.cloud.volume(volume['id']))))
        # A member's password gets Nova's 403 through the CLI.
        member_env = auth_fixtures.openrc(
            self.deployment, auth_fixtures.identity.MEMBER_USER)
        e = self.assertRaises(AssertionError, run_openstack, member_env,
                              'server', 'volume', 'migration', 'list')
        self.assertIn('403', str(e))


def _get(url: str, token: str | None) -> requests.Response:
    headers = {'X-Auth-Token': token} if token is not None else {}
    return requests.get(url, headers=headers, timeout=30)


def run_openstack(env: dict[str, str], *args: str) -> str:
    """The ``openstack`` CLI with only ``env`` (no OS_* of the caller)."""
    env = {**env, 'PATH': os.environ.get('PATH', '/usr/bin:/bin')}
    # The tree under test, when the runner has it first on the path.
    if os.environ.get('PYTHONPATH'):
        env['PYTHONPATH'] = os.environ['PYTHONPATH']
    result = subprocess.run([os.path.join(BIN, 'openstack'), *args],
                            env=env, capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise AssertionError('openstack %s exited %d:\n%s\n%s' % (
            ' '.join(args), result.returncode, result.stdout,
            result.stderr))
    return result.stdout


class TestKeystoneConfiguration(base.TestCase):
    """The options written for Keystone are options the services know.

    oslo.config ignores unknown options: a misspelt one would silently
    leave a service on noauth2 or without its service user. (The
    validator cannot check ``[keystone_authtoken]``, whose auth plugin
    options it has no sample of; the functional tests above use them.)
    """

    def test_rendered_files_use_known_options(self):
        deployment = dep.Deployment(
            self.state_file('deployment'),
            dep.Settings(name='vt_ks_render', nova_port=0, cinder_port=0,
                         auth='keystone', keystone_port=0))
        deployment.keystone = auth_fixtures.identity.Keystone(
            self.state_file('keystone'), '127.0.0.1', 5000)
        deployment.write_config()
        for service, namespaces in (
                (dep.NOVA_API, ['nova_volmig']),
                (dep.LIVE_HOST, ['nova_volmig']),
                (dep.CINDER, ['cinder_volmig'])):
            files = deployment.config_files(service)
            [keystone_file] = [f for f in files
                               if f.endswith('-keystone.conf')]
            self.assertLess(files.index(keystone_file),
                            files.index(files[-1]))  # before overrides
            argv = [os.path.join(BIN, 'oslo-config-validator'),
                    '--input-file', keystone_file]
            for namespace in namespaces + ['keystonemiddleware.auth_token']:
                argv += ['--namespace', namespace]
            result = subprocess.run(argv, capture_output=True, text=True,
                                    timeout=120)
            self.assertEqual(0, result.returncode, '%s:\n%s' % (
                keystone_file, result.stderr[-3000:]))
