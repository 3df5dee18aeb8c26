"""volmig_common.aio: the launcher, with a stand-in for nova-volmig-aio."""

import configparser
import os
import signal
import sys

import fixtures

from tests import base
from volmig_common import aio

# Writes aio.json under --state-path as the service does once it serves,
# logs the reload line on SIGHUP, and runs until signalled.
SERVE = '''
import json, signal, sys, time
state = sys.argv[sys.argv.index('--state-path') + 1]
signal.signal(signal.SIGHUP, lambda *a: print(%r, flush=True))
with open(state + '/aio.json', 'w') as f:
    json.dump({'compute': 'http://c/v2.1', 'volume': 'http://v/v3'}, f)
while True:
    time.sleep(1)
''' % aio.RELOADED


class TestAioProcess(base.TestCase):

    def _launcher(self, script: str) -> aio.AioProcess:
        self.useFixture(fixtures.MockPatch(
            'volmig_common.aio.aio_command',
            return_value=[sys.executable, '-c', script]))
        launcher = aio.AioProcess(self.state_path,
                                  {'DEFAULT': {'debug': True}},
                                  {'array1': {'pools': 'pool1'}})
        self.addCleanup(launcher.stop, 5, signal.SIGKILL)
        return launcher

    def test_start_reload_stop(self):
        launcher = self._launcher(SERVE)
        info = launcher.start(timeout=30)
        self.assertEqual('http://c/v2.1', info['compute'])
        parser = configparser.ConfigParser()
        parser.read(os.path.join(self.state_path, 'cinder.conf'))
        self.assertEqual('pool1', parser['array1']['pools'])
        launcher.set_nova_options('libvirt', timeout=10, x='1')
        parser.read(launcher.nova_conf_path)
        self.assertEqual('1', parser['libvirt']['x'])
        self.assertEqual(-signal.SIGTERM, launcher.stop(5))

    def test_exit_before_ready(self):
        launcher = self._launcher('import sys; print("bad"); sys.exit(3)')
        e = self.assertRaises(aio.LaunchError, launcher.start, timeout=30)
        self.assertIn('exited with 3', str(e))
        self.assertIn('bad', str(e))

    def test_not_ready_in_time_is_stopped(self):
        launcher = self._launcher('import time; time.sleep(60)')
        e = self.assertRaises(aio.LaunchError, launcher.start, timeout=0.3)
        self.assertIn('not ready in 0 s', str(e))
        self.assertIsNotNone(launcher.process.poll())
