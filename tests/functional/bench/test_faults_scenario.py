"""``volmig-bench --scenario faults``, reduced: a real guest, real services.

Two cases of the fault scenario on the distributed deployment (its own
databases and vhost): the new flow without a fault, and nova-volmig-compute
SIGKILLed inside complete once the guest was switched to dst (src
released, complete not yet answered), then restarted to reconcile. In
each, the real guest writer acknowledges every write once durable; src is
checked against the log read at start and by sha256, and the disk the
guest ends on against the acknowledged log after the migration and again
after the writer stopped.
"""

from __future__ import annotations

import json
import os
import subprocess

import testtools

from tests import base
from tests.functional.bench import test_run

CASES = 'none-two_step,kill-compute-after-switch'


class TestFaultScenario(base.TestCase):

    def test_no_acknowledged_write_lost(self):
        out = self.state_file('bench-results')
        cache = os.environ.get('VOLMIG_BENCH_GUEST_CACHE')
        argv = test_run._bench_argv() + [
            '--state-path', self.state_path, 'run', '--scenario', 'faults',
            '--faults', CASES, '--size', '64M', '--out', out] + (
            ['--cache-dir', cache] if cache else [])
        proc = subprocess.run(argv, capture_output=True, text=True,
                              timeout=600)
        self.addDetail('bench-output', testtools.content.text_content(
            proc.stdout + proc.stderr))
        self.assertEqual(0, proc.returncode)
        (run_dir,) = os.listdir(out)
        with open(os.path.join(out, run_dir, 'results.json')) as f:
            rows = {r['case']: r for r in json.load(f)['rows']}
        self.assertEqual(set(CASES.split(',')), set(rows))
        for name, row in rows.items():
            self.assertTrue(row['passed'], (name, row))
            # The guest wrote (and had writes acknowledged) throughout.
            start = row['src_at_start']
            self.assertGreater(start['acknowledged'], 0)
            self.assertEqual('ok', start['verdict'])
            after = row['after_migration']
            self.assertGreater(after['acknowledged'], start['acknowledged'])
            self.assertEqual('raw', after['format'])
            self.assertFalse(after['chained'])
            # Completed: on dst, src untouched since start; rolled back:
            # on src again, which then holds the overlay's writes too.
            self.assertEqual({'success/completed': 'dst',
                              'error/error': 'src'}[row['outcome']],
                             after['on'])
            if after['on'] == 'dst':
                self.assertTrue(start['unchanged'])
            final = row['final']
            self.assertGreater(final['acknowledged'], after['acknowledged'])
            self.assertEqual((0, 0, 0), (final['stale'], final['missing'],
                                         final['corrupt']))
            self.assertTrue(final['writer_ok'])
            self.assertEqual({'overlays': [], 'orphan_volume_files': []},
                             row['leaks'])
        self.assertEqual('success/completed', rows['none-two_step'][
            'outcome'])
        # Killed once complete recorded the switch, before its answer;
        # reconciled and finished: every acknowledged write on dst.
        killed = rows['kill-compute-after-switch']
        self.assertEqual('complete:switched', killed['fired_at'])
        self.assertEqual('success/completed', killed['outcome'])
