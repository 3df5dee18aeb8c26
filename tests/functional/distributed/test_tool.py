"""tools/distributed.py as an operator runs it, and what it renders.

oslo.config ignores options it does not know, so a misspelt option in a
template would silently do nothing: the rendered files are checked with
oslo-config-validator against the projects' option namespaces.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import uuid

import requests

from cinder_driver_side.conf import backend as cinder_backend
from tests import base
from tests.functional.fixtures import aio as aio_fixtures
from tests.functional.fixtures import libvirt as lv
from volmig_distributed import deployment as dep
from volmig_distributed import services

TOOL = os.path.join(dep.REPO_ROOT, 'tools', 'distributed.py')
BIN = os.path.dirname(sys.executable)


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True,
                            timeout=300, cwd=dep.REPO_ROOT)
    if check and result.returncode != 0:
        raise AssertionError('%s exited %d:\n%s\n%s' % (
            ' '.join(argv), result.returncode, result.stdout,
            result.stderr[-3000:]))
    return result


class TestRenderedConfiguration(base.TestCase):

    def setUp(self):
        super().setUp()
        self.deployment = dep.Deployment(
            self.state_file('deployment'),
            dep.Settings(name='vt_render', nova_port=0, cinder_port=0,
                         nova_overrides={'compute': {'report_interval': 3}}))
        self.deployment.write_config()

    def validate(self, path: str, namespaces: list[str],
                 exclude_groups: tuple[str, ...] = ()) -> None:
        argv = [os.path.join(BIN, 'oslo-config-validator'),
                '--input-file', path]
        for namespace in namespaces:
            argv += ['--namespace', namespace]
        for group in exclude_groups:
            argv += ['--exclude-group', group]
        result = run(argv, check=False)
        self.assertEqual(0, result.returncode, '%s:\n%s' % (
            path, result.stderr[-3000:]))

    def test_nova_files_use_known_options(self):
        for name in [dep.NOVA_API] + list(dep.COMPUTE_HOSTS):
            for path in self.deployment.config_files(name):
                self.validate(path, ['nova_volmig', 'oslo.messaging',
                                     'oslo.log'])

    def test_cinder_files_use_known_options(self):
        path, overrides = self.deployment.config_files(dep.CINDER)
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path)
        backends = parser['DEFAULT']['enabled_backends'].split(',')
        self.assertEqual(['array1', 'array2'], backends)
        # Backend groups are named by enabled_backends: not in any sample.
        self.validate(path, ['cinder_volmig', 'oslo.log'],
                      exclude_groups=tuple(backends))
        known = {opt.dest for opt in cinder_backend.backend_opts}
        for backend in backends:
            self.assertLessEqual(set(parser[backend]), known | set(
                parser.defaults()))
        self.validate(overrides, ['cinder_volmig', 'oslo.log'])

    def test_each_service_reads_its_own_host_and_state(self):
        seen = {}
        for host, driver in dep.COMPUTE_HOSTS.items():
            parser = configparser.ConfigParser(interpolation=None)
            parser.read(self.deployment.config_files(host))
            seen[host] = (parser['DEFAULT']['host'],
                          parser['DEFAULT']['compute_driver'],
                          parser['DEFAULT']['state_path'])
            self.assertEqual('3', parser['compute']['report_interval'])
            self.assertTrue(parser['DEFAULT']['transport_url'].startswith(
                'rabbit://'))
            self.assertTrue(parser['database']['connection'].startswith(
                'postgresql+psycopg2://'))
        self.assertEqual((dep.LIVE_HOST, 'libvirt'), seen[dep.LIVE_HOST][:2])
        self.assertEqual((dep.OFFLINE_HOST, 'offline'),
                         seen[dep.OFFLINE_HOST][:2])
        self.assertNotEqual(seen[dep.LIVE_HOST][2],
                            seen[dep.OFFLINE_HOST][2])


class TestCommandLine(base.TestCase):
    """start, status, listen, stop --purge of a whole deployment."""

    def migrate_while_listening(self, state: str, info: dict) -> None:
        """A shut-off instance's volume migrated; ``listen`` prints it."""
        out_path = self.state_file('listen.out')
        err_path = self.state_file('listen.err')
        with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
            listen = subprocess.Popen(
                [sys.executable, TOOL, 'listen', '--state-path', state],
                stdout=out, stderr=err, cwd=dep.REPO_ROOT)
        self.addCleanup(listen.kill)

        def read(path):
            with open(path, errors='replace') as f:
                return f.read()

        lv.wait_for(lambda: 'listening on' in read(err_path), timeout=60,
                    what='the listener: %s' % read(err_path)[-2000:])
        cloud = aio_fixtures.Aio(state)
        cloud.connect(info['compute_api'], info['volume_api'])
        server = cloud.nova.post('/servers', {'server': {
            'name': 'cli', 'availability_zone': 'nova:%s' % dep.OFFLINE_HOST,
        }}, expect=202).json()['server']
        cloud.wait_server(server['id'], 'ACTIVE')
        volume = cloud.create_volume(size_bytes=64 * 1024 * 1024)
        cloud.attach(server['id'], volume['id'])
        cloud.nova.post('/servers/%s/action' % server['id'],
                        {'os-stop': None}, expect=202)
        cloud.wait_server(server['id'], 'SHUTOFF')
        cloud.migrate(volume['id'], '%s@array1#pool2' % dep.CINDER_HOST)
        done = cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])

        def printed():
            return [json.loads(line) for line in read(out_path).splitlines()
                    if line.startswith('{')]

        lv.wait_for(lambda: len(printed()) >= 4, timeout=30,
                    what='four notifications printed: %s' % printed())
        self.assertEqual(
            [('instance.volume_migration.start', 'start'),
             ('instance.volume_migration.end', 'start'),
             ('instance.volume_migration.start', 'complete'),
             ('instance.volume_migration.end', 'complete')],
            [(m['event_type'], m['payload']['nova_object.data']['action'])
             for m in printed()])
        listen.terminate()
        self.assertEqual(0, listen.wait(30), read(err_path)[-2000:])

    def test_start_status_stop(self):
        state = self.state_file('deployment')
        name = 'vt_cli_%s' % uuid.uuid4().hex[:8]
        python = sys.executable
        started = run([python, TOOL, 'start', '--state-path', state,
                       '--name', name, '--nova-port', '0',
                       '--cinder-port', '0'], check=False)
        # Whatever happens, leave nothing running.
        self.addCleanup(run, [python, TOOL, 'stop', '--state-path', state,
                              '--purge'], False)
        self.assertEqual(0, started.returncode, started.stderr[-3000:])
        self.assertIn('compute API:', started.stdout)
        with open(os.path.join(state, 'deployment.json')) as f:
            info = json.load(f)
        pids = {n: s['pid'] for n, s in info['services'].items()}
        self.assertEqual({dep.NOVA_API, dep.CINDER, dep.LIVE_HOST,
                          dep.OFFLINE_HOST}, set(pids))

        status = run([python, TOOL, 'status', '--state-path', state])
        report = json.loads(status.stdout)
        self.assertTrue(all(s['running'] and s['ready']
                            for s in report['services'].values()), report)
        self.assertEqual(200, requests.get(info['volume_api'] + '/',
                                           timeout=10).status_code)
        self.migrate_while_listening(state, info)

        stopped = run([python, TOOL, 'stop', '--state-path', state,
                       '--purge'])
        self.assertIn('stopped the services', stopped.stdout)
        for service, pid in pids.items():
            self.assertFalse(services.pid_alive(pid), service)
        self.assertEqual(3, run([python, TOOL, 'status', '--state-path',
                                 state], check=False).returncode)
        postgresql = services.PostgreSQL()
        if postgresql.running_pid():
            self.assertFalse(postgresql.database_exists('%s_nova' % name))
