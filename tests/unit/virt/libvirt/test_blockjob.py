"""ReadyWaiter and WriteThrottle against a small fake of a disk."""

import threading
import time

import libvirt

from nova_volmig.virt.libvirt import blockjob
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import guest as libvirt_guest
from nova_volmig.virt.libvirt import host as libvirt_host
from tests import base

COPY = libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY
MIRROR = config.DiskSource('file', 'qcow2', path='/o/ov2')


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeHost:
    def __init__(self, clock):
        self.block_job_events = libvirt_host.BlockJobEvents()
        self.clock = clock
        self.graph_lock = threading.RLock()
        self.waits = []
        # the waiter sleeps on the events condition: advance time instead
        self.block_job_events.wait = self._advance

    def block_graph_lock(self, domain_uuid):
        return self.graph_lock

    def _advance(self, timeout, domain_uuid=None, disk=None, after=None):
        self.waits.append((domain_uuid, disk, after))
        self.clock.now += timeout


class FakeGuest:
    uuid = 'dom-1'

    def __init__(self, host):
        self.host = host
        self.tune = {'total_bytes_sec': 0, 'write_bytes_sec': 0}
        self.tune_calls = []

    def get_block_io_tune(self, disk):
        return dict(self.tune)

    def set_block_io_tune(self, disk, params):
        self.tune_calls.append(dict(params))
        self.tune.update(params)


class FakeDevice:
    """Plays a script of (job info, live-XML readiness) per poll."""

    disk = 'vdb'

    def __init__(self, guest, script):
        self.guest = guest
        self.script = list(script)
        self.aborted = False

    def _step(self):
        return self.script[0] if len(self.script) == 1 else \
            self.script.pop(0)

    def get_job_info(self):
        info = self._step()[0]
        return None if info is None else libvirt_guest.BlockJobInfo(
            COPY, 0, *info)

    def get_state(self):
        info, ready = self.script[0]
        return config.DiskState('vdb', None, None,
                                mirror=MIRROR if info else None,
                                mirror_ready=ready)

    def abort_job(self, pivot=False, async_=False):
        self.aborted = True


class ReadyWaiterTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.host = FakeHost(self.clock)
        self.guest = FakeGuest(self.host)

    def waiter(self, script, timeout=10, throttle=None):
        self.device = FakeDevice(self.guest, script)
        self.progress = []
        return blockjob.ReadyWaiter(self.device, 'test copy', COPY,
                                    timeout=timeout,
                                    progress_cb=self.progress.append,
                                    throttle=throttle, window=1.0,
                                    progress_interval=0, clock=self.clock)

    def test_ready_from_live_xml_without_events(self):
        waiter = self.waiter([((10, 100), False), ((100, 100), False),
                              ((100, 100), True)])
        waiter.wait()
        self.assertEqual(100, self.progress[-1])
        self.assertIn(10, self.progress)

    def test_bytes_reported_with_each_percent(self):
        waiter = self.waiter([((10, 100), False), ((60, 100), False),
                              ((100, 100), False), ((100, 100), True)])
        reported = []
        waiter.bytes_cb = lambda done, total: reported.append((done, total))
        waiter.wait()
        self.assertEqual([(10, 100), (60, 100), (100, 100)], reported)
        self.assertEqual([10, 60, 100], self.progress)

    def test_cur_equals_end_is_not_ready(self):
        waiter = self.waiter([((100, 100), False)], timeout=3)
        self.assertRaises(lv_exc.BlockJobTimeout, waiter.wait)

    def test_ready_from_event(self):
        waiter = self.waiter([((50, 100), False)])
        self.host.block_job_events.record(
            'dom-1', 'vdb', COPY, libvirt.VIR_DOMAIN_BLOCK_JOB_READY)
        waiter.wait()
        self.assertEqual([100], self.progress)

    def test_event_recorded_before_the_waiter_is_ignored(self):
        self.host.block_job_events.record(
            'dom-1', 'vdb', COPY, libvirt.VIR_DOMAIN_BLOCK_JOB_READY)
        waiter = self.waiter([((50, 100), False)], timeout=2)
        self.assertRaises(lv_exc.BlockJobTimeout, waiter.wait)

    def test_job_vanished(self):
        waiter = self.waiter([((5, 100), False), (None, False)])
        self.host.block_job_events.record(
            'dom-1', 'vdb', COPY, libvirt.VIR_DOMAIN_BLOCK_JOB_FAILED)
        err = self.assertRaises(lv_exc.BlockJobFailed, waiter.wait)
        self.assertIn('it failed', str(err))
        self.assertIn('dom-1', str(err))

    def test_timeout_aborts_and_names_everything(self):
        waiter = self.waiter([((5, 100), False)], timeout=4)
        err = self.assertRaises(lv_exc.BlockJobTimeout, waiter.wait)
        self.assertTrue(self.device.aborted)
        for word in ('test copy', 'vdb', 'dom-1', '4 s', '5 of 100'):
            self.assertIn(word, str(err))

    def test_throttles_when_remaining_does_not_shrink(self):
        saved = []
        throttle = blockjob.WriteThrottle(self.guest, 'vdb', 1000,
                                          save_original=saved.append)
        self.guest.tune['write_bytes_sec'] = 10 ** 9
        # cur grows 1000/s but end grows as fast: remaining stays 500.
        script = [((1000 * i, 1000 * i + 500), False) for i in range(12)]
        script.append(((20000, 20000), True))
        self.waiter(script, timeout=60, throttle=throttle).wait()
        self.assertEqual([{'total_bytes_sec': 0,
                           'write_bytes_sec': 10 ** 9}], saved)
        limits = [c['write_bytes_sec'] for c in self.guest.tune_calls]
        self.assertTrue(limits)
        self.assertEqual(sorted(limits, reverse=True), limits)
        self.assertGreaterEqual(min(limits), 1000)
        throttle.restore()
        self.assertEqual(10 ** 9, self.guest.tune['write_bytes_sec'])

    def test_no_throttle_when_shrinking(self):
        throttle = blockjob.WriteThrottle(self.guest, 'vdb', 1000)
        script = [((10 * i, 100), False) for i in range(10)]
        script.append(((100, 100), True))
        self.waiter(script, throttle=throttle).wait()
        self.assertEqual([], self.guest.tune_calls)
        self.assertFalse(throttle.active)


class WriteThrottleTest(base.TestCase):

    def test_total_limit_guest(self):
        guest = FakeGuest(None)
        guest.tune['total_bytes_sec'] = 50000
        throttle = blockjob.WriteThrottle(guest, 'vdb', 1000)
        self.assertEqual(40000, throttle.tighten(80000))
        self.assertEqual({'total_bytes_sec': 40000}, guest.tune_calls[-1])
        self.assertEqual(20000, throttle.tighten(0))
        throttle.tighten(0)
        throttle.tighten(0)
        self.assertEqual(2500, throttle.tighten(0))
        self.assertEqual(1250, throttle.tighten(0))
        self.assertEqual(1000, throttle.tighten(0))
        throttle.restore()
        self.assertEqual({'total_bytes_sec': 50000, 'write_bytes_sec': 0},
                         guest.tune_calls[-1])


class PivotDevice(FakeDevice):
    """A ready copy whose pivot ends after ``polls`` polls (or never)."""

    def __init__(self, guest, polls=None):
        super().__init__(guest, [((100, 100), True)])
        self.polls = polls
        self.abort_calls = []

    def abort_job(self, pivot=False, async_=False):
        self.abort_calls.append({'pivot': pivot, 'async_': async_})

    def get_job_info(self):
        if self.abort_calls and self.polls is not None:
            if self.polls <= 0:
                return None
            self.polls -= 1
        return super().get_job_info()

    def get_state(self):
        if self.get_job_info() is None:
            return config.DiskState('vdb', None, None)
        return super().get_state()


class PivotTest(base.TestCase):
    """blockjob.pivot: asked asynchronously, waited for with a deadline."""

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.host = FakeHost(self.clock)
        self.guest = FakeGuest(self.host)

    def test_pivot_that_never_finishes_times_out(self):
        self.flags(group='libvirt', block_job_pivot_timeout=7)
        device = PivotDevice(self.guest, polls=None)
        err = self.assertRaises(lv_exc.BlockJobPivotTimeout, blockjob.pivot,
                                device, 'test copy', clock=self.clock)
        self.assertEqual([{'pivot': True, 'async_': True}],
                         device.abort_calls)
        for words in ('test copy', 'disk vdb', 'dom-1', 'within 7 s'):
            self.assertIn(words, str(err))
        self.assertIsInstance(err, lv_exc.BlockJobPivotFailed)
        self.assertGreaterEqual(self.clock.now, 7)
        self.assertLess(self.clock.now, 8)

    def test_pivot_that_finishes_returns(self):
        device = PivotDevice(self.guest, polls=3)
        blockjob.pivot(device, 'test copy', timeout=10, clock=self.clock)
        self.assertEqual([{'pivot': True, 'async_': True}],
                         device.abort_calls)
        self.assertLess(self.clock.now, 10)

    def test_failed_event_is_a_pivot_failure(self):
        device = PivotDevice(self.guest, polls=None)
        real_abort = device.abort_job

        def abort_then_fail(**kw):
            real_abort(**kw)
            self.host.block_job_events.record(
                'dom-1', 'vdb', COPY, libvirt.VIR_DOMAIN_BLOCK_JOB_FAILED)
        device.abort_job = abort_then_fail
        err = self.assertRaises(lv_exc.BlockJobPivotFailed, blockjob.pivot,
                                device, 'test copy', timeout=10,
                                clock=self.clock)
        self.assertNotIsInstance(err, lv_exc.BlockJobPivotTimeout)
        self.assertIn('failed', str(err))
        self.assertEqual(0, self.clock.now)

    def test_graph_lock_held_until_the_pivot_is_over(self):
        # A monitor write (HMP qemu-io) meeting a pivot in progress can
        # abort QEMU 7.2 or hold the pivot off: none gets in until it ends.
        device = PivotDevice(self.guest, polls=3)
        free_during = []
        info = device.get_job_info

        def job_info():
            result = []
            t = threading.Thread(target=lambda: result.append(
                self.host.graph_lock.acquire(blocking=False)))
            t.start()
            t.join()
            free_during.append(result[0])
            if result[0]:
                self.host.graph_lock.release()
            return info()
        device.get_job_info = job_info
        blockjob.pivot(device, 'test copy', timeout=10, clock=self.clock)
        self.assertTrue(free_during)
        self.assertEqual({False}, set(free_during))
        self.assertTrue(self.host.graph_lock.acquire(blocking=False))

    def test_libvirt_refusal_is_a_pivot_failure(self):
        device = PivotDevice(self.guest)

        def refuse(**kw):
            raise libvirt.libvirtError('block job not ready')
        device.abort_job = refuse
        err = self.assertRaises(lv_exc.BlockJobPivotFailed, blockjob.pivot,
                                device, 'test copy', timeout=10,
                                clock=self.clock)
        self.assertIn('not ready', str(err))


class BlockJobEventsWaitTest(base.TestCase):
    """A waiter is not put to sleep by an event it has not looked at."""

    def setUp(self):
        super().setUp()
        self.events = libvirt_host.BlockJobEvents()

    def timed_wait(self, *args):
        started = time.monotonic()
        self.events.wait(*args)
        return time.monotonic() - started

    def test_event_that_came_while_looking_ends_the_wait_at_once(self):
        looked = self.events.seq
        # READY arrives while the waiter asks libvirt, before it sleeps
        self.events.record('dom-1', 'vdb', COPY,
                           libvirt.VIR_DOMAIN_BLOCK_JOB_READY)
        self.assertLess(self.timed_wait(5, 'dom-1', 'vdb', looked), 1)

    def test_events_of_other_disks_do_not_end_it(self):
        looked = self.events.seq
        self.events.record('dom-1', 'vdc', COPY,
                           libvirt.VIR_DOMAIN_BLOCK_JOB_READY)
        self.events.record('dom-2', 'vdb', COPY,
                           libvirt.VIR_DOMAIN_BLOCK_JOB_READY)
        self.assertGreaterEqual(self.timed_wait(0.2, 'dom-1', 'vdb',
                                                looked), 0.19)

    def test_an_event_later_wakes_it(self):
        looked = self.events.seq
        timer = threading.Timer(0.1, self.events.record, (
            'dom-1', 'vdb', COPY, libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED))
        timer.start()
        self.addCleanup(timer.cancel)
        self.assertLess(self.timed_wait(5, 'dom-1', 'vdb', looked), 2)


class WaitersLookBeforeTheySleepTest(base.TestCase):
    """ReadyWaiter and pivot sleep only past the events they saw."""

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.host = FakeHost(self.clock)
        self.guest = FakeGuest(self.host)

    def test_ready_waiter_sleeps_from_before_its_checks(self):
        device = FakeDevice(self.guest, [((10, 100), False),
                                         ((50, 100), False),
                                         ((100, 100), True)])
        real_state = device.get_state
        seqs = []

        def state_with_an_event():
            # an event of another job lands during the libvirt calls
            self.host.block_job_events.record('dom-1', 'vdb', COPY, 99)
            seqs.append(self.host.block_job_events.seq)
            return real_state()
        device.get_state = state_with_an_event
        blockjob.ReadyWaiter(device, 'test copy', COPY, timeout=10,
                             clock=self.clock).wait()
        uuid, disk, after = self.host.waits[0]
        self.assertEqual(('dom-1', 'vdb'), (uuid, disk))
        self.assertLess(after, seqs[0])

    def test_pivot_sleeps_from_before_its_checks(self):
        device = PivotDevice(self.guest, polls=2)
        blockjob.pivot(device, 'test copy', timeout=10, clock=self.clock)
        self.assertTrue(self.host.waits)
        for uuid, disk, after in self.host.waits:
            self.assertEqual(('dom-1', 'vdb'), (uuid, disk))
            self.assertIsNotNone(after)
