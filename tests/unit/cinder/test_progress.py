"""Rate/ETA estimator, stall detection and bandwidth limits (3.72)."""

import threading
import time

import fixtures

from cinder_driver_side import exception
from cinder_driver_side.volume import copy_engines
from cinder_driver_side.volume import progress
from tests import base as test_base
from tests.unit.cinder import base

INSTANCE = '11111111-2222-3333-4444-555555555555'
MiB = 1024 * 1024


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class EstimatorTest(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.est = progress.Estimator(100 * MiB, window=5.0,
                                      clock=self.clock)

    def feed(self, seconds, rate, step=0.5):
        for _ in range(int(seconds / step)):
            self.clock.now += step
            self.est.update(self.est.bytes_done + int(rate * step))

    def test_unknown_before_time_passes(self):
        snap = self.est.snapshot()
        self.assertEqual((0, 100 * MiB, None, None),
                         (snap.bytes_done, snap.bytes_total, snap.rate,
                          snap.eta))

    def test_steady_rate_and_eta(self):
        self.feed(4, 2 * MiB)
        snap = self.est.snapshot()
        self.assertEqual(8 * MiB, snap.bytes_done)
        self.assertEqual(2 * MiB, snap.rate)
        self.assertEqual(46, snap.eta)     # 92 MiB at 2 MiB/s

    def test_window_follows_a_rate_change(self):
        self.feed(20, 1 * MiB)
        self.feed(6, 4 * MiB)
        # Only the last 5 s (plus one older sample) count.
        self.assertAlmostEqual(4 * MiB, self.est.rate(), delta=0.1 * MiB)

    def test_rate_decays_while_stalled(self):
        self.feed(5, 2 * MiB)
        self.clock.now += 10
        self.assertEqual(0, self.est.snapshot().rate)
        self.assertIsNone(self.est.snapshot().eta)
        self.assertEqual(10, self.est.stalled_for())

    def test_stalled_for_counts_from_last_growth(self):
        self.clock.now += 3
        self.assertEqual(3, self.est.stalled_for())
        self.est.update(MiB)
        self.clock.now += 1
        self.est.update(MiB)        # the same bytes: no progress
        self.assertEqual(1, self.est.stalled_for())

    def test_done_is_clamped_and_eta_zero(self):
        self.clock.now += 1
        self.est.update(200 * MiB)
        self.assertEqual(100 * MiB, self.est.bytes_done)
        self.assertEqual(0, self.est.snapshot().eta)

    def test_eta_rounds_up(self):
        self.clock.now += 1
        self.est.update(int(99.5 * MiB))
        self.assertEqual(1, self.est.snapshot().eta)


class StallWatchdogTest(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.est = progress.Estimator(MiB, clock=self.clock)
        self.abort = threading.Event()

    def test_flags_a_stuck_copy(self):
        with progress.StallWatchdog(self.est, 0.4, self.abort) as dog:
            dog.check()                     # not stuck yet
            self.clock.now += 0.2
            self.est.update(1024)           # progress resets the clock
            self.clock.now += 0.3
            time.sleep(0.3)
            self.assertFalse(dog.wakeup.is_set())
            self.clock.now += 0.2
            self.assertTrue(dog.wakeup.wait(5))
            e = self.assertRaises(exception.CopyStalled, dog.check)
        self.assertIn('no progress for 0 s at 1024 of 1048576 bytes',
                      str(e))

    def test_abort_wakes_without_stall(self):
        with progress.StallWatchdog(self.est, 0, self.abort) as dog:
            self.abort.set()
            self.assertTrue(dog.wakeup.wait(5))
            dog.check()                     # not a stall

    def test_moving_copy_is_never_flagged(self):
        with progress.StallWatchdog(self.est, 0.4, self.abort) as dog:
            for i in range(10):
                self.clock.now += 0.1
                self.est.update((i + 1) * 1024)
                time.sleep(0.05)
            self.assertFalse(dog.wakeup.is_set())


class RateLimiterWakeupTest(test_base.TestCase):

    def test_wakeup_ends_a_long_sleep(self):
        wakeup = threading.Event()
        limiter = copy_engines.RateLimiter(1, sleep=wakeup.wait)
        threading.Timer(0.2, wakeup.set).start()
        started = time.monotonic()
        limiter.throttle(3600)          # one hour at 1 B/s
        self.assertLess(time.monotonic() - started, 5)


class SharedRateTest(test_base.TestCase):
    """An array's copy engine rate, shared by the copies running on it."""

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.slept = []

        def sleep(seconds):
            self.slept.append(seconds)
            self.clock.now += seconds
        self.sleep = sleep

    def test_copies_at_once_share_the_rate(self):
        shared = copy_engines.SharedRate(10 * MiB, clock=self.clock)
        one = copy_engines.RateLimiter(0, clock=self.clock, sleep=self.sleep,
                                       shared=shared)
        two = copy_engines.RateLimiter(0, clock=self.clock,
                                       sleep=self.sleep, shared=shared)
        started = self.clock.now
        for _ in range(5):              # interleaved, 1 MiB each turn
            one.throttle(MiB)
            two.throttle(MiB)
        # 10 MiB at 10 MiB/s in all, not 10 MiB/s each.
        self.assertAlmostEqual(1.0, self.clock.now - started)

    def test_idle_time_is_not_banked(self):
        shared = copy_engines.SharedRate(MiB, clock=self.clock)
        limiter = copy_engines.RateLimiter(0, clock=self.clock,
                                           sleep=self.sleep, shared=shared)
        self.clock.now += 60            # nobody copied for a minute
        started = self.clock.now
        limiter.throttle(2 * MiB)
        self.assertAlmostEqual(2.0, self.clock.now - started)

    def test_lower_of_own_and_shared_limit(self):
        shared = copy_engines.SharedRate(10 * MiB, clock=self.clock)
        limiter = copy_engines.RateLimiter(MiB, clock=self.clock,
                                           sleep=self.sleep, shared=shared)
        self.assertEqual(MiB, limiter.limit)
        started = self.clock.now
        limiter.throttle(2 * MiB)
        self.assertAlmostEqual(2.0, self.clock.now - started)
        self.assertEqual(0, copy_engines.RateLimiter(0).limit)
        self.assertRaises(ValueError, copy_engines.SharedRate, 0)


class ProgressFieldsTest(base.CinderTestCase):
    """The volume's 3.72 progress fields and the record's limits."""

    def _migrate_watching(self, volume_id, **kw):
        """Migrate; return the volume as last seen while migrating."""
        status, body = self.migrate(volume_id, **kw)
        self.assertEqual(202, status, body)
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            volume = self.volume(volume_id)
            if volume['migration_status'] == 'migrating' and \
                    volume.get('migration_rate'):
                seen.append(volume)
            if volume['migration_status'] in ('success', 'error'):
                break
            time.sleep(0.05)
        return seen

    def test_request_bandwidth_limits_and_shows(self):
        volume_id = self.create_volume(size=4 * MiB)   # 2 MiB of data
        started = time.monotonic()
        seen = self._migrate_watching(volume_id, bandwidth=2 * MiB)
        volume = self.wait_done(volume_id)
        elapsed = time.monotonic() - started
        self.assertEqual('success', volume['migration_status'])
        # 2 MiB of data at 2 MiB/s: at least ~1 s.
        self.assertGreater(elapsed, 0.9)
        self.assertTrue(seen, 'no progress with a rate was shown')
        last = seen[-1]
        self.assertEqual(2 * MiB, last['migration_bandwidth'])
        self.assertEqual(4 * MiB, last['migration_bytes_total'])
        self.assertGreater(last['migration_bytes_done'], 0)
        self.assertLessEqual(last['migration_rate'], 4 * 2 * MiB)
        self.assertIsNotNone(last['migration_eta'])
        # Not while not migrating.
        self.assertNotIn('migration_rate', volume)
        record = self.api('GET', '/volumes/%s/migration' % volume_id)[1][
            'migration']
        self.assertEqual(2 * MiB, record['requested_bandwidth'])
        self.assertEqual(2 * MiB, record['bandwidth'])
        self.assertEqual(4 * MiB, record['bytes_total'])

    def test_copy_makes_no_commit_of_its_own_at_0_and_100(self):
        # 0 % is written with the size before the copy, 100 % with its
        # method and times after it: a short copy commits nothing while
        # it runs (each commit inside it slowed every copy).
        from cinder_driver_side.volume.flows import base as flows_base

        inside, during = [], []
        real_copy = copy_engines.CopyEngine.copy
        real_progress = flows_base.MigrationFlow._set_progress

        def copy(engine, *args, **kwargs):
            inside.append(True)
            try:
                return real_copy(engine, *args, **kwargs)
            finally:
                inside.pop()

        def set_progress(flow, percent, *args, **kwargs):
            if inside:
                during.append(percent)
            return real_progress(flow, percent, *args, **kwargs)

        self.useFixture(fixtures.MockPatchObject(
            copy_engines.CopyEngine, 'copy', copy))
        self.useFixture(fixtures.MockPatchObject(
            flows_base.MigrationFlow, '_set_progress', set_progress))
        volume_id = self.create_volume(size=MiB)
        self.migrate(volume_id)
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual([], during)
        record = self.api('GET', '/volumes/%s/migration' % volume_id)[1][
            'migration']
        self.assertEqual(('100', MiB, MiB),
                         (record['progress'], record['bytes_total'],
                          record['bytes_copied']))
        self.assertTrue(record['copy_method'])

    def test_backend_default_and_request_override(self):
        arr, _pool = self.svc.manager.locate(
            self.svc.db.volume_get(base._admin(),
                                   self.create_volume(size=MiB)))
        arr.copy_bandwidth = 8 * MiB
        volume_id = self.create_volume(size=MiB)
        self.migrate(volume_id)
        self.wait_done(volume_id)
        record = self.api('GET', '/volumes/%s/migration' % volume_id)[1][
            'migration']
        self.assertIsNone(record['requested_bandwidth'])
        self.assertEqual(8 * MiB, record['bandwidth'])
        volume_id = self.create_volume(size=MiB)
        self.migrate(volume_id, bandwidth=0)        # 0: unlimited
        self.wait_done(volume_id)
        record = self.api('GET', '/volumes/%s/migration' % volume_id)[1][
            'migration']
        self.assertEqual(0, record['bandwidth'])

    def test_native_copies_share_the_array_throughput(self):
        # Two 2 MiB copies at once on an array whose copy engine moves
        # 4 MiB/s in all: about 1 s, not 0.5 s (each on its own).
        volume_ids = [self.create_volume(size=4 * MiB) for _ in range(2)]
        arr, _pool = self.svc.manager.locate(
            self.svc.db.volume_get(base._admin(), volume_ids[0]))
        arr.copy_rate = copy_engines.SharedRate(4 * MiB)
        started = time.monotonic()
        for volume_id in volume_ids:
            self.assertEqual(202, self.migrate(volume_id)[0])
        for volume_id in volume_ids:
            self.assertEqual('success',
                             self.wait_done(volume_id)['migration_status'])
        self.assertGreater(time.monotonic() - started, 0.9)

    def test_bandwidth_validated(self):
        volume_id = self.create_volume(size=MiB)
        for bad in (-1, 'fast', 1.5, True):
            status, body = self.migrate(volume_id, bandwidth=bad)
            self.assertEqual(400, status, (bad, body))
        status, body = self.api(
            'POST', '/volumes/%s/action' % volume_id,
            {'os-migrate_volume': {'host': 'aio@array1#pool2',
                                   'bandwidth': MiB}}, version='3.71')
        self.assertEqual(400, status, body)
        self.assertIsNone(self.volume(volume_id)['migration_status'])

    def test_legacy_swap_rate_from_swap_progress(self):
        self.cconf.set_override('attached_migration_mode', 'legacy')
        volume_id = self.create_volume(size=8 * MiB)
        self.nova.attach(volume_id, INSTANCE)
        self.nova.swap_delay = 0.4          # per MiB: 2.5 MiB/s
        seen = self._migrate_watching(volume_id)
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        self.assertTrue(seen, 'no rate shown during the swap')
        self.assertEqual(8 * MiB, seen[-1]['migration_bytes_total'])
        self.assertLess(seen[-1]['migration_rate'], 8 * MiB)


class StallTest(base.CinderTestCase):

    def test_stuck_copy_ends_in_error_and_cancels_on_nova(self):
        volume_id = self.create_volume()
        att = self.nova.attach(volume_id, INSTANCE)
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        arr, _pool = self.svc.manager.locate(
            self.svc.db.volume_get(base._admin(), volume_id))
        arr.stall_timeout = 1
        # 1 KiB/s: the limiter sleeps a minute after the first chunk, so
        # the copy makes no progress for far longer than 1 s.
        started = time.monotonic()
        self.migrate(volume_id, bandwidth=1024)
        self.wait_done(volume_id, timeout=20)
        self.assertLess(time.monotonic() - started, 15)
        self.assertEqual(['starting', 'migrating', 'error'],
                         self.history[volume_id])
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertIn('copy stuck: no progress for', record.error)
        self.assertIn('migration_stall_timeout', record.error)
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        self.assertEqual(before, base.read(src_path))
        self.assertEqual([], self.pool_files())

    def test_slow_but_moving_copy_is_not_stuck(self):
        volume_id = self.create_volume(size=4 * MiB)
        arr, _pool = self.svc.manager.locate(
            self.svc.db.volume_get(base._admin(), volume_id))
        arr.stall_timeout = 1
        # 2 MiB of data at 1 MiB/s in 128 KiB steps: slow, never stuck.
        self.migrate(volume_id, bandwidth=MiB)
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
