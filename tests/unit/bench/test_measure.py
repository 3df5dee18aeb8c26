"""From observations to rows, counters, verdicts: arithmetic only."""

import datetime

from tests import base
from volmig_bench import counters
from volmig_bench import events
from volmig_bench.guest import protocol
from volmig_bench import measure
from volmig_bench import plan
from volmig_bench import report
from volmig_bench import results
from volmig_bench import stats

G = plan.GiB
WALL0 = datetime.datetime(2026, 11, 22, 0, 0, 0)
# Monotonic 100.0 s is wall WALL0 (UTC).
CLOCK = measure.WallClock(WALL0.replace(
    tzinfo=datetime.timezone.utc).timestamp() - 100.0)


def _at(mono: float) -> str:
    return (WALL0 + datetime.timedelta(seconds=mono - 100.0)).isoformat()


def _event(at, job, status):
    return events.BlockJobEvent(at, 'u', 'vdb', job, status)


def _timeline():
    """Writes every 100 ms from host 90 s; long ones at 101.5 and 103."""
    log = protocol.WriterLog(header={'window_us': '100000'}, t0_us=0)
    for i in range(200):
        start = 90.0 + i * 0.1
        lat = 1000
        if abs(start - 101.5) < 0.01:
            lat = 40000
        if abs(start - 103.0) < 0.01:
            lat = 9000
        log.windows.append(protocol.Window(i, [lat], None))
    return stats.LatencyTimeline(log, stats.ClockMap(90.0))


CASE = plan.Case(0, plan.Backend('nbd', 'cfr'), G, 20 * 10 ** 6)


class BuildRowTestCase(base.TestCase):

    def _new_obs(self, **kw):
        record = {'finished_at': _at(104.0), 'copy_method': 'reflink',
                  'phase_times': {
                      'nova_start_called': _at(101.4),
                      'nova_start_returned': _at(101.6),
                      'copy_started': _at(101.7),
                      'copy_finished': _at(102.7),
                      'nova_complete_called': _at(102.8),
                      'nova_complete_returned': _at(103.3)}}
        values = dict(
            flow='new', iteration=0, called_at=101.0, ended_at=105.0,
            quiet_since=95.0, status='success', error=None,
            cinder_record=record,
            nova_record={'status': 'completed', 'updated_at': _at(105.0)},
            events=[_event(102.9, 'copy', 'ready'),
                    _event(103.1, 'copy', 'completed'),
                    _event(104.5, 'active-commit', 'ready'),
                    _event(104.6, 'active-commit', 'completed')],
            link_bytes=(40 * 10 ** 6, 10 ** 6), link_kind='netns-veth')
        values.update(kw)
        return measure.Observation(**values)

    def test_new_flow_row(self):
        row = measure.build_row(self._new_obs(), CASE, _timeline(), CLOCK,
                                raw_copy_s=0.5, legacy_timeout_s=120,
                                guest_bytes=lambda a, b: (int((b - a) * 10),
                                                          65536))
        results.validate(results.new_result({}) | {'rows': [row]})
        self.assertAlmostEqual(4.0, row['total_s'])
        self.assertAlmostEqual(3.0, row['cinder_done_s'])
        self.assertAlmostEqual(0.5, row['cinder_complete_wait_s'])
        self.assertAlmostEqual(1.7, row['nova_finish_s'])
        self.assertAlmostEqual(1.0, row['copy_phase_s'])
        self.assertAlmostEqual(2.0, row['copy_ratio'])
        self.assertEqual(41 * 10 ** 6, row['bytes_through_compute'])
        self.assertEqual(40 * 10 ** 6, row['bytes_to_array'])
        self.assertEqual('link counters', row['bytes_source'])
        self.assertEqual(40, row['guest_bytes_during'])
        self.assertEqual(65536, row['guest_chunk_bytes_during'])
        self.assertEqual('two_step', row['complete_mode'])
        self.assertEqual('reflink', row['copy_method'])
        # The 40 ms write was issued during start; 9 ms around the pivot
        # at 103; the commit's pivot saw only 1 ms writes.
        self.assertEqual(0.04, row['write_block_s']['start'])
        self.assertEqual([0.009, 0.001], row['write_block_s']['pivots'])
        self.assertEqual(60, row['guest_latency']['before']['count'])
        self.assertEqual(40, row['guest_latency']['during']['count'])
        self.assertEqual(40.0, row['guest_latency']['during']['max_ms'])
        self.assertIsNone(row['legacy_converged'])
        self.assertAlmostEqual(0.4, row['phases_s']['nova_start_called'])
        self.assertEqual('1gib-nbd-cfr-new-0-20m', row['id'])

    def test_legacy_converged(self):
        obs = self._new_obs(
            flow='legacy', nova_record=None, cinder_record={
                'finished_at': _at(109.0),
                'phase_times': {'swap_called': _at(101.1),
                                'completion_callback': _at(108.9)}},
            ended_at=109.0,
            events=[_event(108.0, 'copy', 'ready'),
                    _event(108.8, 'copy', 'completed')])
        row = measure.build_row(obs, CASE, _timeline(), CLOCK, None, 120)
        self.assertTrue(row['legacy_converged'])
        # Converged = pivoted (108.8), ready came first (108.0).
        self.assertAlmostEqual(7.7, row['converge_s'])
        self.assertAlmostEqual(6.9, row['ready_s'])
        self.assertIsNone(row['cinder_complete_wait_s'])
        self.assertIsNone(row['write_block_s']['start'])
        self.assertEqual(1, len(row['write_block_s']['pivots']))
        self.assertIsNone(row['raw_copy_s'])

    def test_legacy_not_converging(self):
        obs = self._new_obs(
            flow='legacy', nova_record=None, status='error',
            error='Nova reported the swap failed', cinder_record={
                'finished_at': _at(230.0),
                'phase_times': {'swap_called': _at(101.1)}},
            ended_at=230.0, events=[_event(229.0, 'copy', 'cancelled')])
        row = measure.build_row(obs, CASE, None, CLOCK, None, 120)
        self.assertIs(False, row['legacy_converged'])
        self.assertIsNone(row['converge_s'])
        self.assertIn('did not converge', row['error'])
        self.assertIn('120 s', row['error'])
        self.assertEqual('NO', report.row_cells(row)[
            report.COLUMNS.index('legacy converged')])

    def test_pivots_pair_ready_with_completed(self):
        evs = [_event(1, 'copy', 'ready'), _event(2, 'copy', 'completed'),
               _event(3, 'active-commit', 'completed'),   # no ready: skip
               _event(4, 'copy', 'ready'), _event(5, 'copy', 'cancelled')]
        self.assertEqual([(1, 2)], measure.pivots(evs))
        self.assertEqual(1, measure.first_ready(evs, 'copy'))
        self.assertIsNone(measure.first_ready(evs, 'active-commit'))


class CounterSamplerTestCase(base.TestCase):

    def test_interpolates_between_samples(self):
        now = [0.0]
        values = iter([(0, 0), (100, 10), (300, 30)])
        sampler = counters.CounterSampler(lambda: next(values),
                                          clock=lambda: now[0])
        for t in (0.0, 1.0, 2.0):
            now[0] = t
            sampler.sample()
        self.assertEqual((50, 5), sampler.delta(0.5, 1.0))
        self.assertEqual((250, 25), sampler.delta(0.0, 1.75))
        self.assertEqual((0, 0), sampler.delta(5.0, 6.0))  # past the end
        self.assertIsNone(sampler.delta(-1.0, 1.0))

    def test_scalar_counters_and_vanishing_source(self):
        now = [0.0]

        def read():
            if now[0] > 1:
                raise FileNotFoundError('process gone')
            return int(now[0] * 1000)

        sampler = counters.CounterSampler(read, clock=lambda: now[0])
        for t in (0.0, 1.0, 2.0):
            now[0] = t
            sampler.sample()
        self.assertEqual(500, sampler.delta(0.0, 0.5))
        self.assertEqual(1000, sampler.delta(0.0, 2.0))

    def test_process_io_bytes(self):
        import os

        self.assertGreaterEqual(counters.process_io_bytes(os.getpid()), 0)
