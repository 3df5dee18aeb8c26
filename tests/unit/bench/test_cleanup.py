"""Process checks through psutil: the bench's pid_alive, the tools' cmdline."""

import os
import subprocess
import sys

import psutil

from tests import base
from volmig_bench import cleanup
from volmig_bench import counters
from volmig_common import polling
from volmig_distributed import services


class TestProcessChecks(base.TestCase):

    def _child(self) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, '-c',
                                 'import sys; sys.stdin.read()',
                                 'volmig-marker'], stdin=subprocess.PIPE)
        # Close stdin first: a failed assertion must not leave wait() hung.
        self.addCleanup(proc.wait)
        self.addCleanup(proc.stdin.close)
        # Until it has exec'd, the child still shows its parent's cmdline.
        polling.wait_for(lambda: 'volmig-marker' in ' '.join(
            psutil.Process(proc.pid).cmdline()), 10, 0.01, 'child exec')
        return proc

    def test_pid_alive_running_zombie_and_reaped(self):
        proc = self._child()
        self.assertTrue(cleanup.pid_alive(proc.pid))
        proc.stdin.close()
        # Exited but not reaped: a zombie does not count as alive.
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        self.assertFalse(cleanup.pid_alive(proc.pid))
        proc.wait()
        self.assertFalse(cleanup.pid_alive(proc.pid))
        self.assertFalse(cleanup.pid_alive(None))
        self.assertFalse(cleanup.pid_alive(0))

    def test_pid_cmdline(self):
        proc = self._child()
        self.assertIn(' volmig-marker', services.pid_cmdline(proc.pid))
        proc.stdin.close()
        proc.wait()
        self.assertEqual('', services.pid_cmdline(proc.pid))

    def test_process_io_bytes_counts_storage_writes(self):
        path = os.path.join(self.state_path, 'data')
        before = counters.process_io_bytes(os.getpid())
        with open(path, 'wb') as f:
            f.write(b'x' * (1 << 20))
            f.flush()
            os.fsync(f.fileno())
        self.assertGreaterEqual(counters.process_io_bytes(os.getpid()),
                                before)

    def test_process_io_bytes_of_a_gone_process_is_an_os_error(self):
        # The counter sampler skips OSError: the process went away.
        proc = self._child()
        proc.stdin.close()
        proc.wait()
        self.assertRaises(OSError, counters.process_io_bytes, proc.pid)
        sampler = counters.CounterSampler(
            lambda: counters.process_io_bytes(proc.pid))
        sampler.sample()
        self.assertIsNone(sampler.at(0))
