"""os-migrate_volume_cancel in every phase of every flow (fake Nova)."""

import threading

import fixtures

from cinder_driver_side.volume import copy_engines
from cinder_driver_side.volume.flows import base as flows_base
from cinder_driver_side.volume.flows import legacy
from cinder_driver_side.volume import manager as manager_mod
from cinder_driver_side.volume import migration_queue
from tests.unit.cinder import base

INSTANCE = '11111111-2222-3333-4444-555555555555'
CANCELLED = ['starting', 'migrating', 'cancelled']


class CancelTestCase(base.CinderTestCase):

    def cancel(self, volume_id, **kw):
        return self.api('POST', '/volumes/%s/action' % volume_id,
                        {'os-migrate_volume_cancel': None}, **kw)

    def endless_copy(self):
        """Copies run until aborted (or ``self.endless`` is cleared)."""
        started = threading.Event()
        self.endless = True

        def patch(engine):
            real = engine._copy

            def slow_copy(engine_self, src, dst, size, report, limiter,
                          chunk):
                started.set()
                while self.endless:
                    report(0)
                    threading.Event().wait(0.01)
                return real(engine_self, src, dst, size, report, limiter,
                            chunk)
            self.useFixture(fixtures.MockPatchObject(engine, '_copy',
                                                     new=slow_copy))
        patch(copy_engines.NativeCopy)
        patch(copy_engines.GenericCopy)
        return started

    def record(self, volume_id):
        return self.api('GET', '/volumes/%s/migration' % volume_id)[1][
            'migration']


class AttachedCancelTest(CancelTestCase):

    def _attached(self):
        volume_id = self.create_volume()
        att = self.nova.attach(volume_id, INSTANCE)
        return volume_id, att, self.path_of(volume_id)

    def test_cancel_during_copy(self):
        volume_id, att, src_path = self._attached()
        self.nova.guests[att].write(0, b'before')
        before = base.read(src_path)
        started = self.endless_copy()
        self.assertEqual(202, self.migrate(volume_id)[0])
        self.assertTrue(started.wait(10))
        self.nova.guests[att].write(4096, b'during')
        self.assertEqual((202, None), self.cancel(volume_id))
        volume = self.wait_done(volume_id)
        self.assertEqual(CANCELLED, self.history[volume_id])
        self.assertEqual('in-use', volume['status'])
        self.assertEqual('aio@array1#pool1', volume['os-vol-host-attr:host'])
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        # src holds every write (Nova's cancel); dst and B are gone.
        expected = bytearray(before)
        expected[4096:4102] = b'during'
        self.assertEqual(bytes(expected), base.read(src_path))
        self.assertEqual([], self.pool_files())
        record = self.record(volume_id)
        self.assertEqual('cancelled', record['status'])
        self.assertIn('os-migrate_volume_cancel', record['error'])
        self.assertEqual(404, self.api('GET', '/attachments/%s'
                                       % record['dst_attachment_id'])[0])
        self.assertEqual([att], [a['attachment_id']
                                 for a in volume['attachments']])
        # The volume migrates again.
        self.endless = False
        self.assertEqual(202, self.migrate(volume_id)[0])
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual(bytes(expected), base.read(self.path_of(volume_id)))

    def test_cancel_during_nova_start(self):
        volume_id, att, src_path = self._attached()
        hold = self.nova.hold['start'] = threading.Event()
        self.migrate(volume_id)
        self.wait_status(volume_id, 'starting')
        self.assertEqual(202, self.cancel(volume_id)[0])
        hold.set()
        self.assertEqual('cancelled',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        self.assertEqual([], self.pool_files())

    def test_cancel_as_the_copy_ends_never_completes(self):
        # The cancel arrives after the copy's last progress report and
        # before completing: the flow cancels, Nova's complete is never
        # called.
        volume_id, att, src_path = self._attached()
        original = flows_base.MigrationFlow._copy

        def copy_then_cancelled(flow, new_volume):
            original(flow, new_volume)
            flow.cancel()
        self.useFixture(fixtures.MockPatchObject(
            flows_base.MigrationFlow, '_copy', new=copy_then_cancelled))
        self.migrate(volume_id)
        self.assertEqual('cancelled',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual(CANCELLED, self.history[volume_id])
        self.assertEqual([], [c for c in self.nova.calls
                              if c[1].endswith('/action')
                              and 'complete' in str(c)])
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        self.assertEqual([], self.pool_files())

    def test_cancel_while_completing_is_409(self):
        volume_id, att, src_path = self._attached()
        hold = self.nova.hold['complete'] = threading.Event()
        self.migrate(volume_id)
        self.wait_status(volume_id, 'completing')
        status, body = self.cancel(volume_id)
        hold.set()
        self.assertEqual(409, status, body)
        self.assertIn('can no longer be cancelled',
                      body['conflictingRequest']['message'])
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])

    def test_flow_refuses_once_completing(self):
        # The flow's own check (the API's may read a stale status).
        volume_id, att, src_path = self._attached()
        hold = self.nova.hold['complete'] = threading.Event()
        self.addCleanup(hold.set)
        self.migrate(volume_id)
        self.wait_status(volume_id, 'completing')
        flow = self.svc.manager.get_flow(volume_id)
        from cinder_driver_side import exception
        self.assertRaises(exception.MigrationCancelTooLate, flow.cancel)

    def test_cancel_after_success_is_400(self):
        volume_id, att, src_path = self._attached()
        self.migrate(volume_id)
        self.wait_done(volume_id)
        self.assertEqual(400, self.cancel(volume_id)[0])

    def test_cancel_needs_372_and_admin(self):
        volume_id, att, src_path = self._attached()
        started = self.endless_copy()
        self.migrate(volume_id)
        self.assertTrue(started.wait(10))
        self.assertEqual(404, self.cancel(volume_id, version='3.71')[0])
        self.assertEqual(403, self.cancel(volume_id, token='bob:p1',
                                          roles='member')[0])
        self.assertEqual(400, self.api(
            'POST', '/volumes/%s/action' % volume_id,
            {'os-migrate_volume_cancel': {'force': True}})[0])
        self.assertEqual('migrating', self.volume(volume_id)[
            'migration_status'])
        self.assertEqual(202, self.api(
            'POST', '/volumes/%s/action' % volume_id,
            {'os-migrate_volume_cancel': {}})[0])
        self.assertEqual('cancelled',
                         self.wait_done(volume_id)['migration_status'])


class DetachedCancelTest(CancelTestCase):

    def test_cancel_during_copy_keeps_src(self):
        volume_id = self.create_volume()
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        started = self.endless_copy()
        self.migrate(volume_id, lock_volume=True)
        self.assertTrue(started.wait(10))
        self.assertEqual('maintenance', self.volume(volume_id)['status'])
        self.assertEqual(202, self.cancel(volume_id)[0])
        volume = self.wait_done(volume_id)
        self.assertEqual(CANCELLED, self.history[volume_id])
        self.assertEqual('available', volume['status'])
        self.assertEqual(before, base.read(src_path))
        self.assertEqual([], self.pool_files())

    def test_cancel_between_arrays(self):
        volume_id = self.create_volume()
        started = self.endless_copy()
        self.migrate(volume_id, host='aio@array2#pool1')
        self.assertTrue(started.wait(10))
        self.assertEqual(202, self.cancel(volume_id)[0])
        self.assertEqual('cancelled',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual([], self.pool_files('array2', 'pool1'))


class LegacyCancelTest(CancelTestCase):

    def setUp(self):
        super().setUp()
        self.cconf.set_override('attached_migration_mode', 'legacy')

    def test_cancel_before_the_swap_is_requested(self):
        volume_id = self.create_volume()
        self.nova.attach(volume_id, INSTANCE)
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        release = threading.Event()
        self.addCleanup(release.set)
        original = flows_base.MigrationFlow._create_dst

        def slow_create(flow):
            release.wait(30)
            return original(flow)
        self.useFixture(fixtures.MockPatchObject(
            legacy.LegacyFlow, '_create_dst', new=slow_create))
        self.migrate(volume_id)
        self.wait_status(volume_id, 'starting')
        self.assertEqual(202, self.cancel(volume_id)[0])
        release.set()
        volume = self.wait_done(volume_id)
        self.assertEqual('cancelled', volume['migration_status'])
        self.assertEqual('in-use', volume['status'])
        self.assertEqual({}, self.nova.swaps)
        self.assertEqual(before, base.read(src_path))
        self.assertEqual([], self.pool_files())

    def test_cancel_during_the_swap_is_409(self):
        volume_id = self.create_volume(size=32 * base.MiB)
        self.nova.attach(volume_id, INSTANCE)
        self.nova.swap_delay = 0.2
        self.migrate(volume_id)
        self.wait_status(volume_id, 'migrating')
        deadline = threading.Event()
        while (INSTANCE, volume_id) not in self.nova.swaps:
            deadline.wait(0.02)
        status, body = self.cancel(volume_id)
        self.assertEqual(409, status, body)
        self.assertIn('no API to abort', body['conflictingRequest']['message'])
        self.nova.swap_delay = 0
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])


class QueueTest(CancelTestCase):

    def setUp(self):
        super().setUp()
        self.cconf.set_override('max_concurrent_migrations', 1,
                                group='array1')

    def test_fifo_queue_positions_and_cancel_while_queued(self):
        started = self.endless_copy()
        v1, v2, v3 = (self.create_volume() for _ in range(3))
        for volume_id in (v1, v2, v3):
            self.assertEqual(202, self.migrate(volume_id)[0])
        self.assertTrue(started.wait(10))
        self.assertEqual('migrating',
                         self.wait_status(v1, 'migrating')[
                             'migration_status'])
        shown = [self.volume(v) for v in (v2, v3)]
        self.assertEqual(['queued', 'queued'],
                         [v['migration_status'] for v in shown])
        self.assertEqual([1, 2], [v['migration_queue_position']
                                  for v in shown])
        self.assertEqual(2, self.record(v3)['queue_position'])
        self.assertNotIn('migration_queue_position',
                         self.volume(v2, version='3.71'))
        # A queued migration cancels at once and never starts.
        self.assertEqual(202, self.cancel(v2)[0])
        self.assertEqual('cancelled', self.volume(v2)['migration_status'])
        self.assertNotIn('migrating', self.history[v2])
        self.assertEqual(1, self.volume(v3)['migration_queue_position'])
        self.assertIsNone(self.record(v2)['new_volume_id'])
        # v1 ends: v3 takes its slot.
        self.assertEqual(202, self.cancel(v1)[0])
        self.wait_status(v3, 'migrating')
        self.assertEqual(202, self.cancel(v3)[0])
        for volume_id in (v1, v3):
            self.assertEqual('cancelled', self.wait_done(volume_id)[
                'migration_status'])
        self.assertEqual(['starting', 'queued', 'cancelled'],
                         self.history[v2])
        self.assertEqual(['starting', 'queued', 'starting', 'migrating',
                          'cancelled'], self.history[v3])
        self.assertEqual([], self.pool_files())

    def test_queue_drains_to_success(self):
        # The copies wait until all three requests are in: a copy that
        # ended first would leave nothing to queue (a race, not a test).
        started = self.endless_copy()
        volumes = [self.create_volume() for _ in range(3)]
        for volume_id in volumes:
            self.assertEqual(202, self.migrate(volume_id)[0])
        self.assertTrue(started.wait(30))
        self.wait_status(volumes[2], 'queued')
        self.endless = False
        for volume_id in volumes:
            self.assertEqual('success', self.wait_done(volume_id)[
                'migration_status'])
        self.assertIn('queued', self.history[volumes[2]])

    def test_restart_requeues_queued_in_order(self):
        started = self.endless_copy()
        v1, v2 = self.create_volume(), self.create_volume()
        self.migrate(v1)
        self.assertTrue(started.wait(10))
        self.migrate(v2)
        self.assertEqual('queued', self.volume(v2)['migration_status'])
        self.svc.manager.stop(stop_exports=False)
        self.assertEqual('error', self.volume(v1)['migration_status'])
        self.assertEqual('queued', self.volume(v2)['migration_status'])
        # A new service (same database) starts the queued one.
        restarted = manager_mod.VolumeManager(self.cconf, self.svc.db,
                                              self.svc.manager.nova)
        self.addCleanup(restarted.stop, stop_exports=False)
        restarted.init_host()
        self.assertEqual('migrating', self.wait_status(v2, 'migrating')[
            'migration_status'])
        self.assertEqual(['starting', 'queued', 'starting', 'migrating'],
                         self.history[v2])


class MigrationQueueTest(base.base.TestCase):
    """migration_queue alone: slots per backend, FIFO, remove, position."""

    def test_fifo_per_backend(self):
        caps = {'a': 1, 'b': 0}
        q = migration_queue.MigrationQueue(caps.get)
        started, queued = [], []

        def submit(backend, key):
            return q.submit(backend, key, lambda: started.append(key),
                            queued.append)
        self.assertEqual(0, submit('a', 'm1'))
        self.assertEqual(1, submit('a', 'm2'))
        self.assertEqual(2, submit('a', 'm3'))
        self.assertEqual(0, submit('b', 'm4'))    # no cap on b
        self.assertEqual(0, submit('b', 'm5'))
        self.assertEqual(['m1', 'm4', 'm5'], started)
        self.assertEqual([1, 2], queued)
        self.assertEqual(2, q.position('m3'))
        self.assertTrue(q.remove('m2'))
        self.assertFalse(q.remove('m2'))
        self.assertEqual(1, q.position('m3'))
        q.release('m1')
        self.assertEqual(['m1', 'm4', 'm5', 'm3'], started)
        self.assertIsNone(q.position('m3'))
        q.release('unknown')
        caps['a'] = 2      # a raised cap applies at the next release
        self.assertEqual(0, submit('a', 'm6'))
        self.assertEqual(1, submit('a', 'm7'))
        caps['a'] = 3
        q.release('m3')
        self.assertEqual(['m1', 'm4', 'm5', 'm3', 'm6', 'm7'], started)
