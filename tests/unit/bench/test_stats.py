"""Latency phases on the host clock."""

import numpy as np

from tests import base
from volmig_bench import exception
from volmig_bench.guest import protocol
from volmig_bench import stats


def _log(windows, window_us=100000, t0_us=5000000, started_at=None):
    log = protocol.WriterLog(header={'window_us': str(window_us)},
                             t0_us=t0_us, started_at=started_at)
    for index, lats, arrived in windows:
        log.windows.append(protocol.Window(index, lats, arrived))
    return log


class ClockMapTestCase(base.TestCase):

    def test_offset_is_the_smallest_delay(self):
        # Window 0 ends at guest 5.1 s; lines arrive 0.030 / 0.002 s late.
        log = _log([(0, [100], 1000.130), (1, [100], 1000.202)])
        clock = stats.ClockMap.from_log(log)
        self.assertAlmostEqual(1000.0 - 5.0 + 0.002, clock.offset_s)
        self.assertAlmostEqual(1000.002, clock.to_host(5000000))
        self.assertAlmostEqual(5000000, clock.to_guest_us(1000.002))

    def test_needs_arrival_times(self):
        self.assertRaises(exception.WriterLogError, stats.ClockMap.from_log,
                          _log([(0, [1], None)]))
        log = _log([])
        log.t0_us = None
        self.assertRaises(exception.WriterLogError, stats.ClockMap.from_log,
                          log)


class TimelineTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        # Guest t0 = host 100.0 s; windows of 100 ms.
        self.log = _log([(0, [500, 600], None), (1, [700], None),
                         (10, [800, 250000], None), (11, [900], None),
                         (30, [1000], None)])
        self.timeline = stats.LatencyTimeline(
            self.log, stats.ClockMap(100.0 - 5.0))

    def test_phase_selects_issue_windows(self):
        before = self.timeline.phase(100.0, 101.0)
        self.assertEqual(3, before.count)
        self.assertEqual(0.6, before.p50_ms)
        during = self.timeline.phase(101.0, 103.0)
        self.assertEqual(3, during.count)
        self.assertEqual(250.0, during.max_ms)
        self.assertEqual(0, self.timeline.phase(200, 300).count)
        self.assertIsNone(self.timeline.phase(200, 300).p99_ms)

    def test_blocked_is_the_longest_write_around_the_event(self):
        self.assertEqual(0.25, self.timeline.blocked_s(101.05))
        self.assertEqual(0.25, self.timeline.blocked_s(101.0, 101.15))
        self.assertIsNone(self.timeline.blocked_s(102.5))

    def test_in_flight_covers_pauses_of_any_length(self):
        # The 250 ms write was issued in [101.0, 101.1) and ended by
        # 101.35: an event at 101.3 caught it in flight, one at 101.5
        # did not (only writes issued later).
        self.assertEqual(0.25, self.timeline.in_flight_max_s(101.3, 101.3))
        self.assertEqual(0.25, self.timeline.in_flight_max_s(100.5, 101.02))
        self.assertIsNone(self.timeline.in_flight_max_s(101.5, 101.5))
        # A write blocked for 2 s before an event far from its window.
        log = _log([(0, [2000000], None), (1, [300], None)])
        timeline = stats.LatencyTimeline(log, stats.ClockMap(95.0))
        self.assertEqual(2.0, timeline.in_flight_max_s(102.0, 102.0))

    def test_series(self):
        s = self.timeline.series(bucket_s=1.0, origin=100.0)
        self.assertEqual([0.0, 1.0, 3.0], s['t_s'])
        self.assertEqual(250.0, s['max_ms'][1])

    def test_summarize(self):
        s = stats.summarize(range(1, 101))
        self.assertEqual(100, s.count)
        self.assertAlmostEqual(0.0505, s.p50_ms, places=2)
        self.assertIsInstance(s.p99_ms, float)
        self.assertEqual(0.1, s.max_ms)

    def test_chunk_bytes_counts_distinct_chunks(self):
        K = 1024
        offsets = np.array([0, 4 * K, 60 * K, 128 * K], dtype=np.int64)
        sizes = np.array([4 * K, 4 * K, 8 * K, 64 * K], dtype=np.int64)
        # chunks 0 (twice), 0-1 (the write across a boundary), 2
        self.assertEqual(3 * 64 * K, stats.chunk_bytes(offsets, sizes,
                                                       64 * K))
        self.assertEqual(0, stats.chunk_bytes(offsets[:0], sizes[:0],
                                              64 * K))

    def test_achieved_rate(self):
        params = protocol.WriterParams(mix=((65536, 1),))
        log = _log([(0, [1] * 10, None), (9, [1] * 10, None)])
        # 20 writes of 64 KiB over 10 windows of 0.1 s.
        self.assertEqual(20 * 65536, stats.achieved_rate(log, params,
                                                         1 << 20))
