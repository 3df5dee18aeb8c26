"""Upstream Watcher's volume_migrate action, unpatched, against the cloud.

python-watcher 17.0.0 (OpenStack 2026.2) from PyPI: its applier action
class ``watcher.applier.actions.volume_migration.VolumeMigrate``, loaded
through its ``watcher_actions`` entry point and configured with its
``[watcher_clients_auth]`` section against the deployment's Keystone
(``watcher_action.py`` runs it in a process of its own). Upstream now
maps ``swap`` to Cinder's migrate, which here runs the new flow (start,
copy, complete on Nova); ``migrate`` is the source document's ``cold``;
``retype`` takes ``destination_type``.

The source document (the Pike spec of this action) lists refusals; the
action's messages for each, as upstream has them today, are asserted
(what changed since the spec is in doc/source/admin/keystone-watcher.rst).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys

from testtools import content

from tests.functional.distributed import auth_fixtures
from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import libvirt as lv
from volmig_distributed import identity

MiB = 1024 * 1024
POOL2 = '%s@array1#pool2' % dist.CINDER_HOST
ARRAY2 = '%s@array2#pool1' % dist.CINDER_HOST
GOLD = 'gold'
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'watcher_action.py')

_WATCHER_CONF = """\
[DEFAULT]
debug = true

[watcher_clients_auth]
auth_type = password
auth_url = {auth_url}
username = watcher
password = {password}
project_name = {project}
user_domain_name = Default
project_domain_name = Default

[cinder]
region_name = {region}

[nova]
region_name = {region}
"""


class TestWatcherVolumeMigrate(auth_fixtures.KeystoneTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.watcher_conf = os.path.join(cls.deployment_dir, 'watcher.conf')
        with open(cls.watcher_conf, 'w') as f:
            f.write(_WATCHER_CONF.format(
                auth_url=cls.deployment.keystone.auth_url,
                password=identity.SERVICE_PASSWORD,
                project=identity.SERVICE_PROJECT, region=identity.REGION))
        # Forks one process per run, Watcher already imported.
        cls.runner_log = open(os.path.join(cls.deployment_dir,
                                           'watcher-runner.log'), 'w')
        cls.runner = subprocess.Popen(
            [sys.executable, RUNNER, '--serve'], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=cls.runner_log, text=True,
            env={**os.environ, 'PYTHONWARNINGS': 'ignore'})

    @classmethod
    def tearDownClass(cls):
        try:
            cls.runner.stdin.close()
            try:
                cls.runner.wait(60)
            except subprocess.TimeoutExpired:
                cls.runner.kill()
                cls.runner.wait()
            cls.runner.stdout.close()
            cls.runner_log.close()
        finally:
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        types = self.cloud.cinder.get('/types', expect=200).json()
        if GOLD not in [t['name'] for t in types['volume_types']]:
            self.cloud.cinder.post('/types', {'volume_type': {
                'name': GOLD,
                'extra_specs': {'volume_backend_name': 'array2'}}},
                expect=200)

    def run_action(self, phases: str | None = None, **parameters) -> dict:
        """Watcher's phases of the action; its outcome and log lines."""
        argv = [RUNNER, self.watcher_conf,
                json.dumps(parameters)] + ([phases] if phases else [])
        self._runs = getattr(self, '_runs', 0) + 1
        paths = {name: self.state_file('watcher-run-%d.%s' % (self._runs,
                                                              name))
                 for name in ('stdout', 'stderr')}
        self.runner.stdin.write(json.dumps({'argv': argv, **paths}) + '\n')
        self.runner.stdin.flush()
        answered, _, _ = select.select([self.runner.stdout], [], [], 300)
        answer = self.runner.stdout.readline() if answered else ''
        output = {}
        for name, path in paths.items():
            output[name] = ''
            if os.path.exists(path):
                with open(path) as f:
                    output[name] = f.read()
        self.addDetail('watcher-run-%d' % self._runs, content.text_content(
            output['stdout'] + output['stderr']))
        if (not answer or json.loads(answer)['returncode'] != 0
                or not output['stdout'].strip()):
            raise AssertionError('watcher action runner failed (%s):\n%s\n%s'
                                 % (answer.strip() or 'no answer in 300 s',
                                    output['stdout'], output['stderr']))
        return json.loads(output['stdout'].strip().splitlines()[-1])

    def assert_failed_with(self, result: dict, message: str) -> None:
        self.assertEqual('failed', result['outcome'], result)
        text = '\n'.join([result['message'] or ''] + result['logs'])
        self.assertIn(message, text)

    def detached_volume(self, seed: int, **extra) -> tuple[dict, str]:
        volume = self.cloud.create_volume(size_bytes=dist.VOLUME_MIB * MiB,
                                          **extra)
        dist.fill_volume(self.cloud.volume_path(volume), seed)
        return volume, lv.sha256_file(self.cloud.volume_path(volume))

    # What the action does

    def test_swap_of_an_attached_volume_of_a_running_server(self):
        server, volume, writer = self.attached_volume(seed=21)
        writer.write_some(4)
        result = self.run_action(resource_id=volume['id'],
                                 migration_type='swap',
                                 destination_node=POOL2)
        self.assertEqual('succeeded', result['outcome'], result)
        done = self.cloud.volume(volume['id'])
        self.assertEqual(('success', POOL2, 'in-use'),
                         (done['migration_status'],
                          done['os-vol-host-attr:host'], done['status']))
        # The new flow ran (start / complete on Nova), not a legacy swap.
        self.cloud.wait_migration(volume['id'])
        [record] = self.cloud.migrations(server['id'])
        self.assertEqual('completed', record['status'])
        self.assertEqual('ACTIVE', self.cloud.server(server['id'])['status'])
        writer.write_some(2)
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.cloud.volume_path(done)))

    def test_migrate_a_detached_volume_to_a_destination_node(self):
        volume, digest = self.detached_volume(seed=22)
        result = self.run_action(resource_id=volume['id'],
                                 migration_type='migrate',
                                 destination_node=POOL2)
        self.assertEqual('succeeded', result['outcome'], result)
        done = self.cloud.volume(volume['id'])
        self.assertEqual(('success', POOL2, 'available'),
                         (done['migration_status'],
                          done['os-vol-host-attr:host'], done['status']))
        self.assertEqual(digest, lv.sha256_file(self.cloud.volume_path(done)))

    def test_retype_to_a_destination_type(self):
        volume, digest = self.detached_volume(seed=23)
        result = self.run_action(resource_id=volume['id'],
                                 migration_type='retype',
                                 destination_type=GOLD)
        self.assertEqual('succeeded', result['outcome'], result)
        done = self.cloud.volume(volume['id'])
        self.assertEqual((GOLD, ARRAY2, 'available'),
                         (done['volume_type'], done['os-vol-host-attr:host'],
                          done['status']))
        self.assertEqual(digest, lv.sha256_file(self.cloud.volume_path(done)))

    # The source document's refusals, with upstream's messages

    def test_cold_is_no_longer_a_migration_type(self):
        volume, _ = self.detached_volume(seed=24)
        result = self.run_action(resource_id=volume['id'],
                                 migration_type='cold',
                                 destination_node=POOL2)
        self.assertEqual(('validate', 'failed'),
                         (result['phase'], result['outcome']))
        self.assertIn("'cold' is not one of ['swap', 'retype', 'migrate']",
                      result['message'])

    def test_volume_with_snapshots_is_refused(self):
        volume, digest = self.detached_volume(seed=25)
        snapshot = self.cloud.cinder.post('/snapshots', {'snapshot': {
            'volume_id': volume['id']}}, expect=202).json()['snapshot']
        self.addCleanup(self.cloud.cinder.request, 'DELETE',
                        '/snapshots/%s' % snapshot['id'])
        result = self.run_action(resource_id=volume['id'],
                                 migration_type='migrate',
                                 destination_node=POOL2)
        self.assert_failed_with(
            result, 'Volume %s must not have snapshots.' % volume['id'])
        self.assertIn('Unexpected exception occurred.',
                      '\n'.join(result['logs']))
        kept = self.cloud.volume(volume['id'])
        self.assertIsNone(kept['migration_status'])
        self.assertEqual(digest, lv.sha256_file(self.cloud.volume_path(kept)))

    def test_retype_to_the_same_type_is_refused(self):
        volume, _ = self.detached_volume(seed=26, volume_type=GOLD)
        # The workflow engine's pre-condition skips it ...
        result = self.run_action(resource_id=volume['id'],
                                 migration_type='retype',
                                 destination_type=GOLD)
        self.assertEqual(('pre_condition', 'skipped',
                          'Volume type is already %s' % GOLD),
                         (result['phase'], result['outcome'],
                          result['message']))
        # ... and execute alone refuses it with the spec's message.
        result = self.run_action('execute', resource_id=volume['id'],
                                 migration_type='retype',
                                 destination_type=GOLD)
        self.assert_failed_with(result,
                                'Volume type must be different for retyping')

    def test_migrate_to_a_pool_of_another_type_is_refused(self):
        volume, _ = self.detached_volume(seed=27, volume_type=GOLD)
        result = self.run_action(resource_id=volume['id'],
                                 migration_type='migrate',
                                 destination_node=POOL2)
        self.assert_failed_with(
            result, "Volume type '%s' is not compatible with destination "
                    "pool '%s'" % (GOLD, POOL2))
        self.assertIsNone(self.cloud.volume(volume['id'])
                          ['migration_status'])

    def test_swap_without_a_destination_is_refused(self):
        _server, volume, _writer = self.attached_volume(seed=28)
        result = self.run_action(resource_id=volume['id'],
                                 migration_type='swap')
        self.assert_failed_with(result, 'The pool None could not be found')
        self.assertIsNone(self.cloud.volume(volume['id'])
                          ['migration_status'])

    def test_swap_of_a_stopped_server_is_refused(self):
        server, volume, _writer = self.attached_volume(seed=29)
        self.cloud.nova.post('/servers/%s/action' % server['id'],
                             {'os-stop': None}, expect=202)
        self.cloud.wait_server(server['id'], 'SHUTOFF')
        result = self.run_action(resource_id=volume['id'],
                                 migration_type='swap',
                                 destination_node=POOL2)
        self.assert_failed_with(result, 'Invalid state for swapping volume')
        self.assertIsNone(self.cloud.volume(volume['id'])
                          ['migration_status'])
