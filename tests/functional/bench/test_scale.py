"""``volmig-bench --scenario scale``, reduced to 4 migrations, end to end.

Real libvirt + QEMU through nova-volmig-aio: 4 diskless domains with a
64 MiB volume each take HMP writes, their volumes migrate all at once
and then one by one; every one must succeed and match its sha256. The
JSON is checked for shape and for every latency being measured, never
for timings (the 2 cores are shared).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess

from tests import base
from tests.functional.bench import test_run
from volmig_bench import scale_report


class ScaleScenarioTestCase(base.TestCase):

    def test_four_at_once_then_one_by_one(self):
        out = self.state_file('bench-results')
        proc = subprocess.run(
            test_run._bench_argv() + [
                '--state-path', self.state_path, 'run', '--scenario',
                'scale', '--count', '4', '--size', '64M',
                '--array-throughput', '256M', '--out', out],
            capture_output=True, text=True, timeout=600)
        self.assertEqual(0, proc.returncode, proc.stdout[-4000:]
                         + proc.stderr[-4000:])
        [path] = glob.glob(os.path.join(out, '*', 'results.json'))
        with open(path) as f:
            result = json.load(f)
        scale_report.validate(result)
        # The emulated array's copy engine, as asked.
        self.assertEqual(256 << 20, result['params']['array_copy_throughput'])
        self.assertTrue(os.path.exists(result['files']['png']))
        for run in scale_report.RUNS:
            summary = result['summary'][run]
            self.assertEqual((4, 4, 4), (summary['count'],
                                         summary['succeeded'],
                                         summary['verified']), run)
            for m in result['runs'][run]['migrations']:
                for key in ('start_s', 'complete_s', 'copy_s', 'total_s'):
                    self.assertGreater(m[key], 0, (run, key, m))
                self.assertLessEqual(m['t_copy_started'],
                                     m['t_copy_finished'])
                self.assertLessEqual(m['t_copy_finished'], m['t_done'])
            self.assertGreater(summary['total_s'], 0)
            self.assertGreater(
                result['load'][run]['loadavg_1m']['max'], 0)
        # one by one is four waits end to end: at least the longest one
        self.assertGreaterEqual(
            result['summary']['sequential']['total_s'],
            max(m['total_s'] for m in
                result['runs']['sequential']['migrations']))
        self.assertGreater(result['raw']['bytes_per_s'], 0)
        self.assertIn('start p99 under 1 s',
                      [c['name'] for c in result['checks']])
        self.assertIn('4 concurrent migrations', proc.stdout)
        # torn down: no run directory, no domain of the run
        self.assertEqual([], glob.glob(os.path.join(
            self.state_path, 'bench', 'run-*')))
        domains = subprocess.run(['virsh', '-c', 'qemu:///system', 'list',
                                  '--all', '--uuid'], capture_output=True,
                                 text=True).stdout.split()
        ids = {m['server_id'] for m in
               result['runs']['concurrent']['migrations']}
        self.assertFalse(ids & set(domains))
