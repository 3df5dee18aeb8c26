"""The per-host cap on asynchronous finishes, and its FIFO queue."""

import threading

from nova_volmig.compute import finish_queue
from nova_volmig.compute import reconcile
from nova_volmig.compute import task_states
from nova_volmig.db import api as db
from nova_volmig.objects import volume_migration as vm_obj
from tests import base
from tests import nova_fixtures as nf
from tests.unit.nova import test_volume_migration as base_vm


class FinishQueueTest(base.TestCase):

    def _waiter(self, ticket, places):
        thread = threading.Thread(target=ticket.wait,
                                  args=(places.append,), daemon=True)
        thread.start()
        return thread

    def test_fifo_behind_the_cap(self):
        queue = finish_queue.FinishQueue(lambda: 1)
        first, second, third = (queue.enqueue(k) for k in 'abc')
        self.assertTrue(first.admitted)
        self.assertEqual((None, 1, 2), (first.place(), second.place(),
                                        third.place()))
        places2, places3 = [], []
        t2 = self._waiter(second, places2)
        t3 = self._waiter(third, places3)
        nf.wait_for(lambda: places2 == [1] and places3 == [2])
        self.assertEqual((['a'], ['b', 'c']), queue.snapshot())
        first.release()
        t2.join(5)
        self.assertFalse(t2.is_alive())
        self.assertTrue(second.admitted)
        nf.wait_for(lambda: places3 == [2, 1])
        self.assertFalse(third.admitted)
        second.release()
        t3.join(5)
        self.assertTrue(third.admitted)
        third.release()
        self.assertEqual(([], []), queue.snapshot())

    def test_zero_means_unlimited(self):
        queue = finish_queue.FinishQueue(lambda: 0)
        tickets = [queue.enqueue(k) for k in range(10)]
        self.assertTrue(all(t.admitted for t in tickets))

    def test_raised_cap_admits_on_next_change(self):
        cap = [1]
        queue = finish_queue.FinishQueue(lambda: cap[0])
        first, second, third = (queue.enqueue(k) for k in 'abc')
        cap[0] = 3
        first.release()
        self.assertTrue(second.admitted and third.admitted)

    def test_leaving_the_queue_moves_the_others_up(self):
        queue = finish_queue.FinishQueue(lambda: 1)
        first, second, third = (queue.enqueue(k) for k in 'abc')
        places3 = []
        t3 = self._waiter(third, places3)
        nf.wait_for(lambda: places3 == [2])
        second.release()  # e.g. its thread could not be started
        nf.wait_for(lambda: places3 == [2, 1])
        first.release()
        t3.join(5)
        self.assertTrue(third.admitted)
        self.assertFalse(second.admitted)

    def test_release_is_idempotent_and_context_manager(self):
        queue = finish_queue.FinishQueue(lambda: 1)
        with queue.enqueue('a') as ticket:
            self.assertTrue(ticket.admitted)
        ticket.release()
        self.assertTrue(queue.enqueue('b').admitted)

    def test_position_callback_failure_does_not_stop_the_wait(self):
        queue = finish_queue.FinishQueue(lambda: 1)
        first, second = queue.enqueue('a'), queue.enqueue('b')

        def broken(place):
            raise RuntimeError('database away')

        thread = threading.Thread(target=second.wait, args=(broken,),
                                  daemon=True)
        thread.start()
        first.release()
        thread.join(5)
        self.assertTrue(second.admitted)


class QueuedFinishTest(base_vm.ComputeTestCase):
    """Finishes beyond the cap wait in order; the record shows it."""

    def setUp(self):
        super().setUp()
        self.flags(group='compute',
                   max_concurrent_volume_migration_finishes=1)
        self.instance2 = self.boot('vm2')
        self.src2 = self.api.attach_volume(
            self.ctxt, self.instance2, self.cinder.create_volume()
        ).attachment_id

    def record(self, src):
        return self.api.volume_migration_get(self.service_ctxt, src)

    def test_second_finish_queued_then_runs(self):
        gate = self.driver.block['volume_migration_complete_finish'] = \
            threading.Event()
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.api.volume_migration_start(self.service_ctxt, self.src2)
        self.api.volume_migration_complete(self.service_ctxt, self.src,
                                           self.dst_attachment())
        nf.wait_for(lambda: (self.record(self.src).driver_data.get(
            'finish') or {}).get('state') == 'running')
        self.api.volume_migration_cancel(self.service_ctxt, self.src2)
        # Shown queued (cancel is a cast), first in line.
        finish = nf.wait_for(
            lambda: self.record(self.src2).driver_data.get('finish'))
        self.assertEqual(('queued', 1), (finish['state'],
                                         finish['queue_position']))
        self.assertEqual('cancelling', self.record(self.src2).status)
        self.assertEqual(task_states.VOLUME_MIGRATION_CANCELLING,
                         db.instance_get(self.ctxt,
                                         self.instance2.uuid).task_state)
        self.assertNotIn(('volume_migration_cancel_finish',
                          self.instance2.uuid), self.driver.calls)
        gate.set()
        self.wait_status('completed')
        self.wait_status('cancelled', self.src2)
        self.assertIn(('volume_migration_cancel_finish',
                       self.instance2.uuid), self.driver.calls)
        nf.wait_for(lambda: db.instance_get(
            self.ctxt, self.instance2.uuid).task_state is None)

    def test_reconcile_requeues_in_the_original_order(self):
        gate = self.driver.block['volume_migration_complete_finish'] = \
            threading.Event()
        self.addCleanup(gate.set)
        ids = []
        for src, instance, finish in (
                (self.src2, self.instance2,
                 {'state': 'queued', 'queued_at': '2026-12-06T04:00:02'}),
                (self.src, self.instance,
                 {'state': 'queued', 'queued_at': '2026-12-06T04:00:01'})):
            db.instance_update(self.ctxt, instance.uuid, {
                'task_state': task_states.VOLUME_MIGRATION_COMPLETING})
            dst = self.dst_attachment(instance.uuid)
            ids.append(db.migration_create(self.ctxt, {
                'src_attachment_id': src, 'dst_attachment_id': dst,
                'instance_uuid': instance.uuid, 'volume_id': 'v',
                'host': 'compute1', 'status': 'completing',
                'device_name': '/dev/vdb',
                'dst_connection_info':
                    self.cinder.attachments[dst]['connection_info'],
                'driver_data': {'finish': finish, 'switched': True}}).id)
            self.driver.instances[instance.uuid]['overlay']['/dev/vdb'] = \
                'complete'
        migrations = vm_obj.VolumeMigration.list(self.ctxt,
                                                 host='compute1')
        self.assertEqual([ids[1], ids[0]], [
            m.id for m in sorted(migrations, key=reconcile._finish_order)])
        self.host.manager._reconcile_volume_migrations(self.ctxt)
        queue = self.host.manager._finish_queue
        nf.wait_for(lambda: queue.snapshot() == ([ids[1]], [ids[0]]))
        self.assertEqual(1, self.record(self.src2).driver_data['finish'][
            'queue_position'])
        gate.set()
        self.wait_status('completed')
        self.wait_status('completed', self.src2)
