"""[compute] max_concurrent_volume_migration_finishes (issue 12 item 4)."""

import threading

from nova_volmig.compute import finish_slots
from tests import base
from tests import nova_fixtures as nf
from tests.unit.nova import test_volume_migration


class FinishSlotsTest(base.TestCase):
    """The gate alone: cap, FIFO order, positions."""

    def test_fifo_under_a_cap(self):
        cap = [1]
        slots = finish_slots.FinishSlots(lambda: cap[0])
        order, release = [], threading.Event()
        entered = threading.Event()

        def finish(mid):
            with slots.slot(mid):
                order.append(mid)
                entered.set()
                release.wait(10)
        first = threading.Thread(target=finish, args=(1,))
        first.start()
        self.assertTrue(entered.wait(5))
        others = []
        for mid in (2, 3, 4):
            others.append(threading.Thread(target=finish, args=(mid,)))
            others[-1].start()
            nf.wait_for(lambda: slots.position(mid) is not None,
                        what='%s waiting' % mid)
        self.assertEqual([1], order)
        self.assertEqual([1, 2, 3], [slots.position(m) for m in (2, 3, 4)])
        self.assertEqual(1, slots.running)
        cap[0] = 2          # a raised cap lets the next one in
        with slots._cond:
            slots._cond.notify_all()
        nf.wait_for(lambda: order == [1, 2], what='2 runs')
        release.set()
        for thread in [first] + others:
            thread.join(10)
        self.assertEqual([1, 2, 3, 4], order)
        self.assertIsNone(slots.position(4))
        self.assertEqual(0, slots.running)

    def test_no_cap(self):
        slots = finish_slots.FinishSlots(lambda: 0)
        with slots.slot(1), slots.slot(2), slots.slot(3):
            self.assertEqual(3, slots.running)


class ComputeFinishCapTest(test_volume_migration.ComputeTestCase):
    """Two instances' completes on one host: the finishes run one by one."""

    def test_second_finish_waits_for_the_first(self):
        self.flags(group='compute',
                   max_concurrent_volume_migration_finishes=1)
        other = self.boot('vm2')
        other_volume = self.cinder.create_volume()
        other_src = self.api.attach_volume(self.ctxt, other,
                                           other_volume).attachment_id
        gate = self.driver.block['volume_migration_complete_finish'] = \
            threading.Event()
        self.addCleanup(gate.set)
        for src, instance_uuid in ((self.src, self.instance.uuid),
                                   (other_src, other.uuid)):
            self.api.volume_migration_start(self.service_ctxt, src)
            self.api.volume_migration_complete(
                self.service_ctxt, src, self.dst_attachment(instance_uuid))
        manager = self.host.manager
        second = self.migration_now(other_src)
        nf.wait_for(lambda: manager._finish_slots.position(second.id) == 1,
                    what='second finish queued')
        finishes = [c for c, _ in self.driver.calls
                    if c == 'volume_migration_complete_finish']
        self.assertEqual(1, len(finishes))
        self.assertEqual('completing', second.status)
        gate.set()
        self.wait_status('completed')
        self.wait_status('completed', other_src)
        self.assertEqual(2, len([c for c, _ in self.driver.calls
                                 if c == 'volume_migration_complete_finish']))
