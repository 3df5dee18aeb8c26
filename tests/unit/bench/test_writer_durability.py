"""The C writer acknowledges a write only after fdatasync() returned.

The writer is compiled for the host and run on a file; strace records its
system calls in order, which shows each A line was printed after the
fdatasync() that made its writes durable, and never before.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tests import base
from volmig_bench import fill
from volmig_bench.guest import builder
from volmig_bench.guest import expected
from volmig_bench.guest import protocol
from volmig_bench.guest import verify
from volmig_bench import host

SIZE = 4 << 20
_SYSCALL = re.compile(r'^\d+\s+(\w+)\((\d+)(?:, (.*))?\)\s+= (-?\d+)')


class DurabilityTestCase(base.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        host.require('gcc', 'strace')
        cls._dir = tempfile.mkdtemp(prefix='volmig-writer-')
        cls.writer = builder.compile_writer(
            os.path.join(cls._dir, 'volmig-writer'), static=False)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls._dir, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.base = self.state_file('base.raw')
        fill.fill_volume(self.base, SIZE, 0.6, seed=8)
        self.disk = self.state_file('disk.raw')
        expected.sparse_copy(self.base, self.disk)

    def _argv(self, params):
        argv = [self.writer] + params.argv() + ['--no-direct',
                                                '--no-power-button']
        argv[argv.index('--dev') + 1] = self.disk
        return argv

    def _traced(self, params):
        """Run the writer under strace; (its log, its system calls)."""
        trace = self.state_file('strace.out')
        res = subprocess.run(
            ['strace', '-f', '-qq', '-s', '80', '-o', trace,
             '-e', 'trace=pwrite64,fdatasync,fsync,write']
            + self._argv(params), capture_output=True, text=True)
        self.assertEqual(0, res.returncode, res.stderr)
        log = protocol.WriterLog()
        for line in res.stdout.splitlines():
            log.feed(line)
        with open(trace) as f:
            calls = [m.groups() for m in map(_SYSCALL.match, f) if m]
        return log, calls

    def assertAckedAfterSync(self, calls):
        """Every A line follows an fdatasync of every write it names."""
        unsynced = acked = 0
        for name, fd, args, ret in calls:
            args = args or ''
            if name == 'pwrite64':
                unsynced += 1
            elif name in ('fdatasync', 'fsync') and ret == '0':
                unsynced = 0
            elif name == 'write' and fd == '1' and args.startswith('"A '):
                first, last = map(int, args[3:].split()[:2])
                self.assertEqual(0, unsynced, 'A %d..%d printed before its '
                                 'writes were synced' % (first, last))
                self.assertEqual(acked, first)
                acked = last + 1
        return acked

    def test_each_write_acknowledged_after_its_fdatasync(self):
        params = protocol.WriterParams(seed=3, rate=0, count=25)
        log, calls = self._traced(params)
        self.assertEqual('1', log.header['sync_every'])
        self.assertEqual(25, self.assertAckedAfterSync(calls))
        self.assertEqual(25, log.ack_lines)     # one A line per write
        self.assertEqual(25, log.acked)
        self.assertEqual(25, sum(1 for c in calls if c[0] == 'fdatasync'))
        self.assertEqual(25, log.reported_writes)

    def test_small_batches(self):
        params = protocol.WriterParams(seed=3, rate=0, count=25,
                                       sync_every=4)
        log, calls = self._traced(params)
        self.assertEqual(25, self.assertAckedAfterSync(calls))
        self.assertEqual(7, log.ack_lines)      # 6 of 4, then 1
        self.assertEqual(25, log.acked)

    def test_batch_acknowledged_before_waiting_for_the_schedule(self):
        # 64 KiB at 640 KB/s: a write every 0.1 s, each acknowledged at
        # once, not when a batch of 8 fills.
        params = protocol.WriterParams(seed=3, rate=640 * 1000, count=4,
                                       sync_every=8)
        log, calls = self._traced(params)
        self.assertEqual(4, self.assertAckedAfterSync(calls))
        self.assertEqual(4, log.ack_lines)

    def test_sync_every_zero_acknowledges_only_at_the_end(self):
        params = protocol.WriterParams(seed=3, rate=0, count=10,
                                       sync_every=0)
        log, calls = self._traced(params)
        self.assertEqual(10, self.assertAckedAfterSync(calls))
        self.assertEqual(1, log.ack_lines)

    def test_volume_verified_against_the_log(self):
        params = protocol.WriterParams(seed=6, rate=0, count=200,
                                       mix=protocol.parse_mix('4k:1,64k:3'))
        res = subprocess.run(self._argv(params), capture_output=True,
                             text=True)
        self.assertEqual(0, res.returncode, res.stderr)
        lines = res.stdout.splitlines()
        full = protocol.WriterLog()
        for line in lines:
            full.feed(line)
        v = verify.verify_log(self.disk, self.base, params, full)
        self.assertEqual((SIZE // 4096, 0), (v.ok, v.newer), v)
        # The log as it was read mid-run: 50 writes acknowledged, the
        # volume already holds all 200 (written after that read).
        mid = protocol.WriterLog()
        for line in lines[:next(i for i, line in enumerate(lines)
                                if line.startswith('A 49 '))]:
            mid.feed(line)
        self.assertEqual(49, mid.acked)
        v = verify.verify_log(self.disk, self.base, params, mid)
        self.assertTrue(v.passed, v)
        self.assertGreater(v.newer, 0)
        self.assertEqual(49, v.acknowledged)

    def test_verify_command(self):
        params = protocol.WriterParams(seed=7, rate=0, count=60)
        res = subprocess.run(self._argv(params), capture_output=True,
                             text=True)
        self.assertEqual(0, res.returncode, res.stderr)
        log = self.state_file('console.log')
        # Mid-run: the last line cut short is left for the next read.
        cut = res.stdout.index('A 30 ') + 4
        with open(log, 'w') as f:
            f.write(res.stdout[:cut])
        argv = [sys.executable, '-m', 'volmig_bench.guest', 'verify',
                '--volume', self.disk, '--base', self.base, '--log', log]
        out = subprocess.run(argv, capture_output=True, text=True)
        self.assertEqual(0, out.returncode, out.stderr)
        verdict = json.loads(out.stdout)
        self.assertEqual((30, 'ok'), (verdict['acknowledged'],
                                      verdict['verdict']))
        self.assertGreater(verdict['newer'], 0)
        # A lost acknowledged write: the volume back to its base.
        shutil.copy(self.base, self.disk)
        out = subprocess.run(argv, capture_output=True, text=True)
        self.assertEqual(1, out.returncode, out.stderr)
        self.assertGreater(json.loads(out.stdout)['missing'], 0)
