"""Teardown of a killed run's processes, by the pids it recorded."""

import json
import os
import signal
import subprocess
import sys

import psutil

from tests import base
from volmig_bench import teardown
from volmig_common import polling


class StopByPidTestCase(base.TestCase):

    def _sleeper(self, *argv: str, name: str | None = None
                 ) -> subprocess.Popen:
        if name:    # argv[0] as a daemon's, the program a sleep
            argv = ['bash', '-c', 'exec -a %s sleep 60' % name]
        else:
            argv = [sys.executable, '-c', 'import time; time.sleep(60)',
                    *argv]
        proc = subprocess.Popen(argv)

        def reap() -> None:
            # One cleanup: cleanups run last-added first, and a wait
            # before the kill sat out the whole sleep.
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.addCleanup(reap)
        # Until it has exec'd (bash: twice), the child shows its parent's
        # command line, which teardown rightly refuses to recognise.
        shown = name or argv[-1]
        polling.wait_for(lambda: shown in psutil.Process(proc.pid).cmdline(),
                         10, 0.01, 'child exec')
        return proc

    def test_stops_the_aio_of_its_state_only(self):
        aio_state = self.state_file('run-1', 'aio')
        os.makedirs(aio_state)
        proc = self._sleeper('--state-path', aio_state)
        with open(os.path.join(aio_state, 'aio.json'), 'w') as f:
            json.dump({'pid': proc.pid}, f)
        other = self.state_file('run-2', 'aio')
        os.makedirs(other)
        with open(os.path.join(other, 'aio.json'), 'w') as f:
            json.dump({'pid': proc.pid}, f)

        teardown.stop_aio_of(other)     # the pid serves another state
        self.assertIsNone(proc.poll())
        teardown.stop_aio_of(aio_state)
        self.assertFalse(psutil.pid_exists(proc.pid))
        teardown.stop_aio_of(aio_state)   # gone: nothing to do

    def test_stops_recorded_qemu_storage_daemons_only(self):
        aio_state = self.state_file('aio')
        records = os.path.join(aio_state, 'cinder', 'nbd', 'nbd_cfr')
        os.makedirs(records)
        daemon = self._sleeper(name='qemu-storage-daemon')
        proc = self._sleeper()
        for name, pid in (('vol1', daemon.pid), ('vol2', proc.pid)):
            with open(os.path.join(records, name + '.json'), 'w') as f:
                json.dump({'pid': pid}, f)
        with open(os.path.join(records, 'broken.json'), 'w') as f:
            f.write('{')
        teardown.stop_leftover_exports(aio_state)
        self.assertEqual(-signal.SIGTERM, daemon.wait(10))
        # A python process under a recorded pid is not a daemon of ours.
        self.assertIsNone(proc.poll())
