"""The verifier on synthetic images: each count, mid-run and at the end."""

import os

import numpy as np

from tests import base
from volmig_bench import exception
from volmig_bench import fill
from volmig_bench.guest import expected
from volmig_bench.guest import protocol
from volmig_bench.guest import verify

SIZE = 2 << 20           # 512 blocks: 64 KiB writes overlap soon
PARAMS = protocol.WriterParams(seed=77,
                               mix=protocol.parse_mix('4k:1,64k:2'))
ACKED = 120


class VerifyTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.base = self.state_file('base.raw')
        fill.fill_volume(self.base, SIZE, 0.6, seed=5)
        self.volume = self.state_file('volume.raw')
        expected.sparse_copy(self.base, self.volume)
        expected.apply_writes(self.volume, PARAMS.seed, PARAMS.mix, ACKED,
                              align=PARAMS.align)
        self.owner, _ = verify._owners(PARAMS, SIZE, ACKED)
        self.writes = list(expected.schedule(PARAMS.seed, PARAMS.mix, SIZE,
                                             ACKED + 50))

    def _verify(self, acked=ACKED, issued=None):
        return verify.verify_volume(self.volume, self.base, PARAMS, acked,
                                    issued=issued)

    def _put(self, block, data):
        with open(self.volume, 'r+b') as f:
            f.seek(block * verify.SECTOR)
            f.write(data)

    def _block_of(self, seq, block):
        w = self.writes[seq]
        return verify.block_patterns(
            PARAMS.seed, np.array([seq]), np.array([w.offset]),
            np.array([block * verify.SECTOR])).astype('<u8').tobytes()

    def _overwritten(self):
        """(block, older acked write over it) with a newer acked owner."""
        for w in self.writes[:ACKED]:
            for block in range(w.offset // 4096,
                               (w.offset + w.size) // 4096):
                if self.owner[block] > w.seq:
                    return block, w.seq
        self.fail('no overwritten block in the schedule')

    def test_exact_image_is_all_ok(self):
        v = self._verify()
        self.assertEqual((SIZE // 4096, 0, 0, 0, 0),
                         (v.ok, v.newer, v.stale, v.missing, v.corrupt))
        self.assertTrue(v.passed)
        self.assertEqual('ok', v.verdict)
        self.assertEqual(ACKED, v.acknowledged)
        self.assertEqual(SIZE // 4096, v.blocks)
        self.assertEqual('ok', v.as_dict()['verdict'])

    def test_patterns_match_the_writer_content(self):
        w = self.writes[3]
        data = expected.write_data(PARAMS.seed, w)
        n = w.size // 4096
        rows = verify.block_patterns(
            PARAMS.seed, np.full(n, w.seq), np.full(n, w.offset),
            w.offset + np.arange(n) * 4096)
        self.assertEqual(data, rows.astype('<u8').tobytes())

    def test_in_flight_writes_are_newer(self):
        # The log says 100 writes were acknowledged; the volume holds 120.
        v = self._verify(acked=100)
        self.assertGreater(v.newer, 0)
        self.assertEqual((0, 0, 0), (v.stale, v.missing, v.corrupt))
        self.assertTrue(v.passed)
        self.assertEqual(SIZE // 4096, v.ok + v.newer)

    def test_newer_than_issued_is_corrupt(self):
        # Once the writer stopped after 100 writes, write 110 never ran.
        v = self._verify(acked=100, issued=100)
        self.assertEqual(0, v.newer)
        self.assertGreater(v.corrupt, 0)
        self.assertFalse(v.passed)
        self.assertIn('never issued', v.examples[0][2])

    def test_stale(self):
        block, older = self._overwritten()
        self._put(block, self._block_of(older, block))
        v = self._verify()
        self.assertEqual((1, 0, 0), (v.stale, v.missing, v.corrupt))
        self.assertEqual('LOST', v.verdict)
        self.assertEqual((block * 4096, 'stale'), v.examples[0][:2])

    def test_missing(self):
        block = int(np.nonzero(self.owner >= 0)[0][0])
        with open(self.base, 'rb') as f:
            f.seek(block * 4096)
            self._put(block, f.read(4096))
        v = self._verify()
        self.assertEqual((0, 1, 0), (v.stale, v.missing, v.corrupt))
        self.assertFalse(v.passed)

    def test_corrupt(self):
        written = int(np.nonzero(self.owner >= 0)[0][0])
        untouched, elsewhere = np.nonzero(self.owner < 0)[0][:2]
        self._put(written, os.urandom(4096))
        self._put(int(untouched), b'\1' * 4096)
        # A write's block at the wrong place is not that write's either.
        self._put(int(elsewhere), self._block_of(0, int(untouched)))
        v = self._verify()
        self.assertEqual((0, 0, 3), (v.stale, v.missing, v.corrupt))
        self.assertEqual(SIZE // 4096 - 3, v.ok)

    def test_future_write_outside_its_range_is_corrupt(self):
        # Write ACKED+k's header copied onto a block it does not cover.
        seq = ACKED + 1
        w = self.writes[seq]
        block = next(b for b in range(SIZE // 4096)
                     if not w.offset <= b * 4096 < w.offset + w.size)
        self._put(block, self._block_of(seq, block))
        v = self._verify()
        self.assertEqual((0, 1), (v.newer, v.corrupt))


class VerifyLogTestCase(base.TestCase):
    """verify_log: the log's header and acknowledgements."""

    def setUp(self):
        super().setUp()
        self.base = self.state_file('base.raw')
        fill.fill_volume(self.base, SIZE, 0.6, seed=5)
        self.volume = self.state_file('volume.raw')
        expected.sparse_copy(self.base, self.volume)
        expected.apply_writes(self.volume, PARAMS.seed, PARAMS.mix, 30)
        self.writes = list(expected.schedule(PARAMS.seed, PARAMS.mix, SIZE,
                                             30))

    def _log(self, version=2, acks=((0, 9), (10, 19)), done=None):
        log = protocol.WriterLog()
        log.feed('H volmig-writer %d dev=/dev/vdb size=%d seed=%d rate=0 '
                 'mix=%s window_us=100000 align=4096 uptime_ms=1 '
                 'sync_every=1' % (version, SIZE, PARAMS.seed,
                                   protocol.format_mix(PARAMS.mix)))
        for first, last in acks:
            w = self.writes[last]
            log.feed('A %d %d off=%d len=%d' % (first, last, w.offset,
                                                w.size))
        if done is not None:
            log.feed('D count=%d bytes=0 fsync_us=1 reason=count '
                     'status=ok' % done)
        return log

    def test_mid_run(self):
        v = verify.verify_log(self.volume, self.base, PARAMS, self._log())
        self.assertEqual(20, v.acknowledged)
        self.assertTrue(v.passed)
        self.assertGreater(v.newer, 0)

    def test_at_the_end(self):
        log = self._log(acks=((0, 29),), done=30)
        v = verify.verify_log(self.volume, self.base, PARAMS, log)
        self.assertEqual((SIZE // 4096, 0), (v.ok, v.newer))
        # Stopped after 20 writes: the other 10 on the volume never ran.
        log = self._log(acks=((0, 19),), done=20)
        v = verify.verify_log(self.volume, self.base, PARAMS, log)
        self.assertFalse(v.passed)
        self.assertEqual(0, v.newer)

    def test_old_writer_acknowledges_nothing(self):
        # A version 1 writer's log: no A lines, nothing to verify against.
        self.assertRaises(exception.WriterLogError, verify.verify_log,
                          self.volume, self.base, PARAMS,
                          self._log(version=1, acks=()))

    def test_schedule_mismatch(self):
        log = self._log()
        log.last_ack = protocol.Ack(10, 19, 4096 * 3 + 1, 4096)
        self.assertRaises(exception.WriterLogError, verify.verify_log,
                          self.volume, self.base, PARAMS, log)

    def test_other_parameters(self):
        other = protocol.WriterParams(seed=PARAMS.seed + 1, mix=PARAMS.mix)
        self.assertRaises(exception.WriterLogError, verify.verify_log,
                          self.volume, self.base, other, self._log())


class GuestCheckCommandTestCase(base.TestCase):
    """``volmig-bench guest-check`` fails when a verdict does."""

    def _run(self, final):
        from unittest import mock

        from volmig_bench import cli
        from volmig_bench.guest import check

        result = check.CheckResult(
            boot_s=1.0, guest_uptime_s=1.0, seconds=1.0, writes=3,
            target_rate=1, achieved_rate=1, latency={}, lags=0,
            expected_sha256='x', actual_sha256='x', final=final)
        with mock.patch.object(check, 'check_guest', return_value=result):
            return cli.main(['guest-check', '--state-path', self.state_path])

    def test_lost_write_fails(self):
        self.assertEqual(1, self._run(verify.Verdict(ok=9, missing=1)))

    def test_passed(self):
        self.assertEqual(0, self._run(verify.Verdict(ok=9, newer=1)))
