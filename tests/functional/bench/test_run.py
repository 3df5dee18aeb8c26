"""volmig-bench end to end on real libvirt + QEMU, small and fast.

The console script runs the same code path as ``make bench`` with a
64 MiB volume and short phases: a real guest booted through Nova writes
while every flow migrates the volume, on the NBD array behind the shaped
link and on the XFS reflink pool. The JSON it writes is checked for
shape and sanity (schema, both flows, checksums, positive numbers), never
for timings; a Ctrl-C mid-run must leave nothing behind.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

import libvirt
import psutil

from tests import base
from volmig_bench import link
from volmig_bench import results

SMALL = ['--size', '64M', '--warmup', '1', '--gap', '0.5', '--tail', '0.5']


def _bench_argv() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), 'volmig-bench')
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, '-m', 'volmig_bench.cli']


class BenchRunTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.out = self.state_file('bench-results')
        self.env = dict(os.environ)
        cache = os.environ.get('VOLMIG_BENCH_GUEST_CACHE')
        self.cache_args = ['--cache-dir', cache] if cache else []

    def _start(self, *args: str) -> subprocess.Popen:
        argv = _bench_argv() + ['--state-path', self.state_path, '--out',
                                self.out] + self.cache_args + list(args)
        self.log = open(self.state_file('bench.out'), 'w+')
        self.addCleanup(self.log.close)
        return subprocess.Popen(argv, stdout=self.log,
                                stderr=subprocess.STDOUT, env=self.env,
                                preexec_fn=base.default_signals)

    def _output(self) -> str:
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def _wait(self, proc: subprocess.Popen, timeout: float) -> int:
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            proc.wait(120)
            self.fail('volmig-bench did not finish in %d s:\n%s'
                      % (timeout, self._output()[-4000:]))

    def assertNothingLeft(self, result: dict | None, bench_pid: int):
        self.assertEqual([], [ns for ns in link.list_namespaces()
                              if ns.startswith('%s%d-' % (
                                  link.NAMESPACE_PREFIX, bench_pid))])
        self.assertEqual([], glob.glob(os.path.join(
            self.state_path, 'bench', 'run-*')))
        self.assertEqual([], glob.glob(os.path.join(
            self.state_path, 'bench', 'volmig-bench-xfs-*')))
        out = subprocess.run(['losetup', '--list', '--noheadings',
                              '--output', 'BACK-FILE'],
                             capture_output=True, text=True).stdout
        self.assertNotIn(self.state_path, out)
        conn = libvirt.open('qemu:///system')
        try:
            for run in (result or {}).get('runs', []):
                if 'server' not in run:
                    continue
                self.assertRaises(libvirt.libvirtError,
                                  conn.lookupByUUIDString,
                                  run['server']['id'])
        finally:
            conn.close()

    def test_end_to_end_writes_a_sane_result(self):
        proc = self._start(*SMALL, '--backends', 'nbd:cfr,file:xfs')
        code = self._wait(proc, 600)
        output = self._output()
        self.addDetail('output', _text(output[-6000:]))
        self.assertEqual(0, code, output[-4000:])
        latest = os.path.join(self.out, 'latest')
        result = results.load_json(os.path.join(latest, 'results.json'))
        with open(os.path.join(latest, 'results.png'), 'rb') as f:
            self.assertEqual(b'\x89PNG', f.read(4))
        self.assertIn('volmig-bench', output)       # the table
        self.assertIn('[ok] data integrity', output)

        self.assertEqual(['nbd:cfr', 'file:xfs-reflink'],
                         result['params']['backends_run'])
        self.assertEqual('netns-veth', result['params']['link']['kind'])
        rows = result['rows']
        self.assertEqual(8, len(rows))
        for backend in (('nbd', 'cfr'), ('file', 'xfs-reflink')):
            flows = [r['flow'] for r in rows
                     if (r['link'], r['array']) == backend]
            self.assertEqual(['new', 'legacy', 'new-write_blocking',
                              'new-rebase'], flows)
        for row in rows:
            self.assertTrue(row['checksum_ok'], row)
            self.assertEqual('success', row['status'], row)
            self.assertGreater(row['total_s'], 0)
            self.assertGreater(row['cinder_done_s'], 0)
            self.assertLessEqual(row['cinder_done_s'], row['total_s'])
            self.assertGreater(row['bytes_through_compute'], 0)
            self.assertGreater(row['guest_bytes_during'], 0)
            self.assertGreater(row['guest_latency']['during']['count'], 0)
            self.assertGreater(row['guest_latency']['before']['count'], 0)
            self.assertTrue(row['write_block_s']['pivots'], row)
            if row['flow'] == 'legacy':
                self.assertTrue(row['legacy_converged'])
                self.assertGreater(row['converge_s'], 0)
                self.assertIsNone(row['cinder_complete_wait_s'])
                continue
            self.assertGreater(row['cinder_complete_wait_s'], 0)
            self.assertGreater(row['copy_phase_s'], 0)
            self.assertGreater(row['raw_copy_s'], 0)
            self.assertIsNotNone(row['nova_finish_s'])
            self.assertIsNotNone(row['write_block_s']['start'])
            self.assertEqual(
                {'new': 'two_step', 'new-write_blocking': 'write_blocking',
                 'new-rebase': 'rebase'}[row['flow']], row['complete_mode'])
            # Start, copy, complete happen in that order.
            phases = row['phases_s']
            self.assertLess(phases['nova_start_returned'],
                            phases['copy_started'])
            self.assertLess(phases['copy_finished'],
                            phases['nova_complete_called'])
        nbd_rows = [r for r in rows if r['link'] == 'nbd']
        for row in nbd_rows:
            self.assertEqual('link counters', row['bytes_source'])
            self.assertEqual(row['bytes_through_compute'],
                             row['bytes_to_array'] + row['bytes_from_array'])
            self.assertEqual('copy_file_range', row['copy_method'] or
                             'copy_file_range')
        xfs_new = [r for r in rows if r['array'] == 'xfs-reflink'
                   and r['flow'] != 'legacy']
        self.assertEqual(['reflink'] * 3, [r['copy_method']
                                           for r in xfs_new])
        for run in result['runs']:
            self.assertTrue(run['checksum_ok'], run)
            self.assertEqual(run['expected_sha256'], run['actual_sha256'])
            self.assertGreater(run['writes'], 0)
        nbd_run = result['runs'][0]
        self.assertEqual({True}, set(
            nbd_run['nbd_accepted_nodelay']['attached']))
        self.assertTrue(all(c['ok'] for c in result['checks']
                            if c['fatal']), result['checks'])
        self.assertNothingLeft(result, proc.pid)

    def test_ctrl_c_tears_everything_down(self):
        proc = self._start(*SMALL, '--backends', 'nbd:cfr')
        deadline = time.monotonic() + 300
        while 'warm-up' not in self._output():
            self.assertIsNone(proc.poll(), self._output()[-4000:])
            self.assertLess(time.monotonic(), deadline, self._output())
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        self.assertEqual(130, self._wait(proc, 180), self._output())
        self.assertIn('interrupted', self._output())
        with open(os.path.join(self.out, 'latest', 'results.json')) as f:
            result = json.load(f)
        self.assertEqual([], result['rows'])
        self.assertNothingLeft(result, proc.pid)

    def test_cleanup_after_sigkill(self):
        proc = self._start(*SMALL, '--backends', 'nbd:cfr,file:xfs')
        deadline = time.monotonic() + 300
        while 'warm-up' not in self._output():
            self.assertIsNone(proc.poll(), self._output()[-4000:])
            self.assertLess(time.monotonic(), deadline, self._output())
            time.sleep(0.2)
        proc.kill()
        proc.wait()
        runs = glob.glob(os.path.join(self.state_path, 'bench', 'run-*'))
        self.assertEqual(1, len(runs))
        with open(os.path.join(runs[0], 'aio', 'aio.json')) as f:
            aio_pid = json.load(f)['pid']
        servers = os.listdir(os.path.join(runs[0], 'aio', 'instances'))
        out = subprocess.run(_bench_argv() + ['cleanup', '--state-path',
                                              self.state_path],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(0, out.returncode, out.stderr)
        cleaned = json.loads(out.stdout)
        self.assertEqual(runs, cleaned['runs'])
        self.assertEqual(1, len(cleaned['namespaces']))
        self.assertEqual(1, len(cleaned['pools']))
        self.assertFalse(psutil.pid_exists(aio_pid))
        self.assertNothingLeft({'runs': [{'server': {'id': s}}
                                         for s in servers]}, proc.pid)


def _text(value):
    from testtools import content

    return content.text_content(value)
