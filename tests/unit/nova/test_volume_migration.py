"""Volume migration through the compute API, RPC and manager.

The real compute API, RPC (volmig-inproc:/ transport), manager and
database with the in-memory FakeDriver and a fake Cinder client: the
state machine of DESIGN 4, asserted at each step, with every error row
of DESIGN 3 that is decided below the REST layer.
"""

import concurrent.futures
import datetime
import threading
from unittest import mock

from oslo_utils import timeutils
from oslo_utils import uuidutils

from nova_volmig.compute import api as compute_api
from nova_volmig.compute import task_states
from nova_volmig.compute import vm_states
from nova_volmig.db import api as db
from nova_volmig import exception
from nova_volmig.virt import driver as virt_driver
from nova_volmig.virt import fake
from nova_volmig.virt.offline import driver as offline_driver
from tests import base
from tests import nova_fixtures as nf


class ComputeTestCase(base.TestCase):
    """A compute host with a driver, a fake Cinder and one instance."""

    driver_class = fake.FakeDriver

    def setUp(self):
        super().setUp()
        self.flags(host='compute1')
        self.flags(group='compute', volume_migration_start_timeout=10,
                   volume_migration_complete_timeout=10,
                   rpc_call_timeout=10)
        self.useFixture(nf.Database(self.state_file('nova.sqlite')))
        self.rpc = self.useFixture(nf.RPC())
        self.cinder = nf.FakeCinder()
        self.driver = self.driver_class()
        self.host = self.useFixture(
            nf.ComputeHost('compute1', self.driver, self.cinder))
        self.api = compute_api.API(volume_api=self.cinder)
        self.ctxt = nf.user_context()
        self.service_ctxt = nf.user_context(project='service', user='cinder',
                                            roles=('service',))
        self.instance = self.boot()
        self.volume_id = self.cinder.create_volume()
        self.bdm = self.api.attach_volume(self.ctxt, self.instance,
                                          self.volume_id)
        self.src = self.bdm.attachment_id

    def boot(self, name='vm1'):
        instance = self.api.create(self.ctxt, name=name)
        return nf.wait_for(
            lambda: self._active(instance.uuid), what='instance active')

    def _active(self, uuid):
        inst = db.instance_get(self.ctxt, uuid)
        return inst if inst.vm_state == vm_states.ACTIVE else None

    def instance_now(self):
        return db.instance_get(self.ctxt, self.instance.uuid)

    def migration_now(self, attachment_id=None):
        return self.api.volume_migration_get(self.service_ctxt,
                                             attachment_id or self.src)

    def dst_attachment(self, instance_uuid=None):
        dst_volume = self.cinder.create_volume()
        return self.cinder.create_attachment(
            dst_volume, instance_uuid or self.instance.uuid)

    def wait_status(self, status, attachment_id=None):
        return nf.wait_for(
            lambda: (self.migration_now(attachment_id).status == status
                     and self.migration_now(attachment_id)),
            what='migration status %s' % status)

    def assertState(self, status, task_state, attachment_id=None):
        self.assertEqual(status, self.migration_now(attachment_id).status)
        self.assertEqual(task_state, self.instance_now().task_state)


class TestVolumeMigrationFlow(ComputeTestCase):

    def test_start_complete_sequence(self):
        record = self.api.volume_migration_start(self.service_ctxt, self.src)
        self.assertEqual('running', record.status)
        self.assertEqual(self.volume_id, record.volume_id)
        self.assertState('running', task_states.VOLUME_MIGRATING)
        self.assertEqual(
            'start', self.driver.instances[self.instance.uuid]['overlay']
            ['/dev/vdb'])

        dst = self.dst_attachment()
        gate = self.driver.block['volume_migration_complete_finish'] = \
            threading.Event()
        self.api.volume_migration_complete(self.service_ctxt, self.src, dst)
        # complete returned: src is released, the finish is still running.
        self.assertState('completing',
                         task_states.VOLUME_MIGRATION_COMPLETING)
        bdm = db.bdm_get_by_volume(self.ctxt, self.instance.uuid,
                                   self.volume_id)
        self.assertEqual(dst, bdm.attachment_id)
        gate.set()
        record = self.wait_status('completed')
        self.assertIsNone(self.instance_now().task_state)
        self.assertEqual(dst, record.dst_attachment_id)
        self.assertIsNone(record.error)
        disks = self.driver.instances[self.instance.uuid]['disks']
        self.assertEqual(self.cinder.attachments[dst]['connection_info'],
                         disks['/dev/vdb'])
        self.assertEqual(
            ['volume_migration_start', 'volume_migration_complete',
             'volume_migration_complete_finish'],
            [c for c, _ in self.driver.calls
             if c.startswith('volume_migration')])
        self.assertEqual(
            ['instance.volume_migration.start',
             'instance.volume_migration.end',
             'instance.volume_migration.start',
             'instance.volume_migration.end'],
            nf.wait_for(lambda: len(self.rpc.event_types()) == 4
                        and self.rpc.event_types(), what='notifications'))
        actions = [a.action for a in
                   self.api.get_instance_actions(self.ctxt, self.instance)]
        self.assertIn('volume_migration_start', actions)
        self.assertIn('volume_migration_complete', actions)
        complete = next(a for a in self.api.get_instance_actions(
            self.ctxt, self.instance)
            if a.action == 'volume_migration_complete')
        _, events = self.api.get_instance_action(self.ctxt, self.instance,
                                                 complete.request_id)
        self.assertEqual(
            [('compute_volume_migration_complete', 'Success'),
             ('compute_volume_migration_complete_finish', 'Success')],
            [(e.event, e.result) for e in events])

    def test_start_cancel_sequence(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        gate = self.driver.block['volume_migration_cancel_finish'] = \
            threading.Event()
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        nf.wait_for(lambda: self.instance_now().task_state ==
                    task_states.VOLUME_MIGRATION_CANCELLING)
        self.assertState('cancelling',
                         task_states.VOLUME_MIGRATION_CANCELLING)
        gate.set()
        self.wait_status('cancelled')
        nf.wait_for(lambda: self.instance_now().task_state is None)
        self.assertEqual({}, self.driver.instances[self.instance.uuid]
                         ['overlay'])
        bdm = db.bdm_get_by_volume(self.ctxt, self.instance.uuid,
                                   self.volume_id)
        self.assertEqual(self.src, bdm.attachment_id)
        nf.wait_for(lambda: self.rpc.event_types()[-1] ==
                    'instance.volume_migration.end')
        actions = [a.action for a in
                   self.api.get_instance_actions(self.ctxt, self.instance)]
        self.assertIn('volume_migration_cancel', actions)

    def test_legacy_swap_moves_the_bdm_to_the_new_attachment(self):
        # What Cinder's legacy flow sets before it asks for the swap.
        new_volume = self.cinder.create_volume(
            migration_status='target:%s' % self.volume_id)
        self.cinder.volumes[self.volume_id]['migration_status'] = 'migrating'
        self.api.swap_volume(self.ctxt, self.instance_now(), self.volume_id,
                             new_volume)
        nf.wait_for(lambda: self.instance_now().task_state is None
                    and self.cinder.completions, what='swap finished')
        # Cinder's completion keeps the old id for the new data.
        self.assertEqual([(self.volume_id, new_volume, False)],
                         self.cinder.completions)
        bdm = db.bdm_get_by_volume(self.ctxt, self.instance.uuid,
                                   self.volume_id)
        self.assertNotEqual(self.src, bdm.attachment_id)
        new_attachment = self.cinder.attachments[bdm.attachment_id]
        self.assertEqual(new_volume, new_attachment['volume_id'])
        # As Nova, the guest keeps knowing the disk by the old serial.
        new_ci = dict(new_attachment['connection_info'],
                      serial=self.volume_id)
        self.assertEqual(new_ci, bdm.connection_info)
        self.assertIsNone(bdm.swap_progress)
        self.assertNotIn(self.src, self.cinder.attachments)
        self.assertEqual(
            new_ci,
            self.driver.instances[self.instance.uuid]['disks'][
                bdm.device_name])

    def test_migration_and_instance_change_together_or_not_at_all(self):
        record = self.api.volume_migration_start(self.service_ctxt, self.src)
        self.assertRaises(
            db.UnexpectedValues, db.migration_update, self.ctxt, record.id,
            {'error': 'changed'}, {'status': 'running'},
            instance_values={'task_state': None},
            instance_expected={'task_state': 'not-this'})
        self.assertIsNone(self.migration_now().error)
        self.assertState('running', task_states.VOLUME_MIGRATING)
        db.migration_update(
            self.ctxt, record.id, {'error': 'changed'}, {'status': 'running'},
            instance_values={'task_state': None},
            instance_expected={'task_state': task_states.VOLUME_MIGRATING})
        self.assertEqual('changed', self.migration_now().error)
        self.assertIsNone(self.instance_now().task_state)

    def test_cancel_notifications(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        self.wait_status('cancelled')

        def by_action():
            return [(n['payload']['nova_object.data']['action'],
                     n['event_type'].rsplit('.', 1)[1],
                     n['payload']['nova_object.data']['migration_status'])
                    for n in self.rpc.notifications()]
        self.assertEqual(
            [('start', 'start', 'starting'), ('start', 'end', 'running'),
             ('cancel', 'start', 'cancelling'),
             ('cancel', 'end', 'cancelled')],
            nf.wait_for(lambda: len(by_action()) == 4 and by_action(),
                        what='cancel notifications'))

    def test_new_start_after_terminal(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        self.wait_status('cancelled')
        nf.wait_for(lambda: self.instance_now().task_state is None)
        record = self.api.volume_migration_start(self.service_ctxt, self.src)
        self.assertEqual('running', record.status)
        dst = self.dst_attachment()
        self.api.volume_migration_complete(self.service_ctxt, self.src, dst)
        self.wait_status('completed')
        nf.wait_for(lambda: self.instance_now().task_state is None)
        # After complete the BDM carries dst: it is the next src.
        record = self.api.volume_migration_start(self.service_ctxt, dst)
        self.assertEqual('running', record.status)
        self.assertEqual(2, len(db.migration_get_all(
            self.service_ctxt, instance_uuid=self.instance.uuid,
            status='running')) + 1)

    def test_list_filters(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.assertEqual(1, len(self.api.volume_migration_list(
            self.service_ctxt, instance_uuid=self.instance.uuid)))
        self.assertEqual([], self.api.volume_migration_list(
            self.service_ctxt, status='completed'))
        self.assertEqual([], self.api.volume_migration_list(
            self.service_ctxt, instance_uuid=uuidutils.generate_uuid()))


class TestVolumeMigrationConflicts(ComputeTestCase):

    def test_second_start_conflicts(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        e = self.assertRaises(exception.VolumeMigrationInProgress,
                              self.api.volume_migration_start,
                              self.service_ctxt, self.src)
        self.assertEqual(409, e.code)
        self.assertState('running', task_states.VOLUME_MIGRATING)

    def test_start_on_busy_instance_conflicts(self):
        volume2 = self.cinder.create_volume()
        bdm2 = self.api.attach_volume(self.ctxt, self.instance, volume2)
        db.instance_update(self.ctxt, self.instance.uuid,
                           {'task_state': task_states.POWERING_OFF})
        self.assertRaises(exception.InstanceBusy,
                          self.api.volume_migration_start,
                          self.service_ctxt, bdm2.attachment_id)

    def test_other_volume_of_a_migrating_instance_starts(self):
        # Issue 12 item 5: several volumes of one server migrate at once.
        volume2 = self.cinder.create_volume()
        bdm2 = self.api.attach_volume(self.ctxt, self.instance, volume2)
        self.api.volume_migration_start(self.service_ctxt, self.src)
        second = self.api.volume_migration_start(self.service_ctxt,
                                                 bdm2.attachment_id)
        self.assertEqual('running', second.status)
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        self.wait_status('cancelled')
        # One migration still runs: the instance stays busy.
        self.assertEqual(task_states.VOLUME_MIGRATING,
                         self.instance_now().task_state)
        self.api.volume_migration_cancel(self.service_ctxt,
                                         bdm2.attachment_id)
        nf.wait_for(lambda: self.instance_now().task_state is None)

    def test_complete_after_cancel_conflicts(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        e = self.assertRaises(exception.VolumeMigrationInvalidState,
                              self.api.volume_migration_complete,
                              self.service_ctxt, self.src,
                              self.dst_attachment())
        self.assertEqual(409, e.code)
        self.wait_status('cancelled')
        self.assertRaises(exception.VolumeMigrationInvalidState,
                          self.api.volume_migration_complete,
                          self.service_ctxt, self.src,
                          self.dst_attachment())

    def test_cancel_after_complete_conflicts(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.api.volume_migration_complete(self.service_ctxt, self.src,
                                           self.dst_attachment())
        self.assertRaises(exception.VolumeMigrationInvalidState,
                          self.api.volume_migration_cancel,
                          self.service_ctxt, self.src)
        self.wait_status('completed')
        self.assertRaises(exception.VolumeMigrationInvalidState,
                          self.api.volume_migration_cancel,
                          self.service_ctxt, self.src)

    def test_complete_or_cancel_without_start(self):
        self.assertRaises(exception.VolumeMigrationNotFound,
                          self.api.volume_migration_cancel,
                          self.service_ctxt, self.src)
        self.assertRaises(exception.VolumeMigrationNotFound,
                          self.api.volume_migration_complete,
                          self.service_ctxt, self.src,
                          self.dst_attachment())

    def test_unknown_attachment_not_found(self):
        e = self.assertRaises(exception.AttachmentNotFound,
                              self.api.volume_migration_start,
                              self.service_ctxt, uuidutils.generate_uuid())
        self.assertEqual(404, e.code)

    def test_other_project_not_found(self):
        other = nf.user_context(project='project-b', user='bob')
        self.assertRaises(exception.AttachmentNotFound,
                          self.api.volume_migration_start, other, self.src)
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.assertRaises(exception.VolumeMigrationNotFound,
                          self.api.volume_migration_get, other, self.src)
        self.assertEqual([], self.api.volume_migration_list(other))
        # The owner sees it (policy may allow it at the REST layer).
        self.assertEqual('running', self.api.volume_migration_get(
            self.ctxt, self.src).status)

    def test_other_project_cannot_complete_or_cancel(self):
        other = nf.user_context(project='project-b', user='bob')
        self.api.volume_migration_start(self.service_ctxt, self.src)
        dst = self.dst_attachment()
        self.assertRaises(exception.VolumeMigrationNotFound,
                          self.api.volume_migration_complete, other,
                          self.src, dst)
        self.assertRaises(exception.VolumeMigrationNotFound,
                          self.api.volume_migration_cancel, other, self.src)
        self.assertState('running', task_states.VOLUME_MIGRATING)

    def test_multiattach_conflicts(self):
        volume = self.cinder.create_volume(multiattach=True)
        self.assertRaises(exception.MultiattachNotSupported,
                          self.api.attach_volume, self.ctxt, self.instance,
                          volume)
        # A multiattach BDM (e.g. from an older attach path) is refused too.
        db.bdm_update(self.ctxt, self.bdm.id, {'multiattach': True})
        e = self.assertRaises(exception.MultiattachNotSupported,
                              self.api.volume_migration_start,
                              self.service_ctxt, self.src)
        self.assertEqual(409, e.code)
        self.assertIsNone(self.instance_now().task_state)

    def test_locked_instance_conflicts(self):
        db.instance_update(self.ctxt, self.instance.uuid, {'locked': True})
        e = self.assertRaises(exception.InstanceIsLocked,
                              self.api.volume_migration_start,
                              self.service_ctxt, self.src)
        self.assertEqual(409, e.code)
        self.assertRaises(exception.VolumeMigrationNotFound,
                          self.migration_now)

    def test_dst_attachment_of_another_instance_is_bad_request(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        e = self.assertRaises(exception.InvalidAttachment,
                              self.api.volume_migration_complete,
                              self.service_ctxt, self.src,
                              self.dst_attachment(uuidutils.generate_uuid()))
        self.assertEqual(400, e.code)
        self.assertRaises(exception.InvalidAttachment,
                          self.api.volume_migration_complete,
                          self.service_ctxt, self.src,
                          uuidutils.generate_uuid())
        self.assertRaises(exception.InvalidAttachment,
                          self.api.volume_migration_complete,
                          self.service_ctxt, self.src, self.src)
        self.assertState('running', task_states.VOLUME_MIGRATING)

    def test_instance_operations_conflict_while_migrating(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self._assert_instance_operations_conflict()
        self.assertState('running', task_states.VOLUME_MIGRATING)

    def _assert_instance_operations_conflict(self):
        volume2 = self.cinder.create_volume()
        # What Cinder's legacy flow sets before it asks for the swap.
        new_volume = self.cinder.create_volume(
            migration_status='target:%s' % self.volume_id)
        self.cinder.volumes[self.volume_id]['migration_status'] = 'migrating'
        for call in (
                lambda: self.api.stop(self.ctxt, self.instance_now()),
                lambda: self.api.start(self.ctxt, self.instance_now()),
                lambda: self.api.delete(self.ctxt, self.instance_now()),
                lambda: self.api.attach_volume(self.ctxt,
                                               self.instance_now(), volume2),
                lambda: self.api.detach_volume(self.ctxt,
                                               self.instance_now(),
                                               self.volume_id),
                lambda: self.api.swap_volume(self.ctxt, self.instance_now(),
                                             self.volume_id, new_volume)):
            e = self.assertRaises(exception.Conflict, call)
            self.assertEqual(409, e.code)

    def test_instance_operations_conflict_while_completing(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        dst = self.dst_attachment()
        gate = self.driver.block['volume_migration_complete_finish'] = \
            threading.Event()
        self.addCleanup(gate.set)
        self.api.volume_migration_complete(self.service_ctxt, self.src, dst)
        self._assert_instance_operations_conflict()
        self.assertState('completing',
                         task_states.VOLUME_MIGRATION_COMPLETING)

    def test_instance_operations_conflict_while_cancelling(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        gate = self.driver.block['volume_migration_cancel_finish'] = \
            threading.Event()
        self.addCleanup(gate.set)
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        nf.wait_for(lambda: self.instance_now().task_state ==
                    task_states.VOLUME_MIGRATION_CANCELLING)
        self._assert_instance_operations_conflict()
        self.assertState('cancelling',
                         task_states.VOLUME_MIGRATION_CANCELLING)

    def test_concurrent_complete_and_cancel_one_wins(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        dst = self.dst_attachment()
        calls = [lambda: self.api.volume_migration_complete(
                     self.service_ctxt, self.src, dst),
                 lambda: self.api.volume_migration_cancel(
                     self.service_ctxt, self.src)] * 10

        def run(call):
            try:
                call()
                return 'ok'
            except exception.VolumeMigrationInvalidState:
                return 409

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            results = list(pool.map(run, calls))
        self.assertEqual(1, results.count('ok'), results)
        final = nf.wait_for(
            lambda: self.migration_now().status in ('completed',
                                                    'cancelled')
            and self.migration_now(), what='a terminal status')
        nf.wait_for(lambda: self.instance_now().task_state is None)
        bdm = db.bdm_get_by_volume(self.ctxt, self.instance.uuid,
                                   self.volume_id)
        self.assertEqual(dst if final.status == 'completed' else self.src,
                         bdm.attachment_id)

    def test_fifty_concurrent_starts_one_winner(self):
        def start(_):
            try:
                self.api.volume_migration_start(self.service_ctxt, self.src)
                return 201
            except exception.NovaVolmigException as e:
                return e.code

        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            codes = list(pool.map(start, range(50)))
        self.assertEqual(1, codes.count(201), codes)
        self.assertEqual(49, codes.count(409), codes)
        migrations = db.migration_get_all(self.service_ctxt,
                                          instance_uuid=self.instance.uuid)
        self.assertEqual(['running'], [m.status for m in migrations])
        self.assertState('running', task_states.VOLUME_MIGRATING)


class TestVolumeMigrationFailures(ComputeTestCase):

    def test_driver_start_failure(self):
        self.driver.fail['volume_migration_start'] = \
            exception.VirtDriverError(reason='no space for the overlay')
        e = self.assertRaises(exception.VirtDriverError,
                              self.api.volume_migration_start,
                              self.service_ctxt, self.src)
        self.assertIn('no space for the overlay', str(e))
        record = self.migration_now()
        self.assertEqual('error', record.status)
        self.assertIn('no space for the overlay', record.error)
        self.assertIsNone(self.instance_now().task_state)
        self.assertEqual(['instance.volume_migration.start',
                          'instance.volume_migration.error'],
                         self.rpc.event_types())
        action = next(a for a in self.api.get_instance_actions(
            self.ctxt, self.instance)
            if a.action == 'volume_migration_start')
        _, events = self.api.get_instance_action(self.ctxt, self.instance,
                                                 action.request_id)
        self.assertEqual([('compute_volume_migration_start', 'Error')],
                         [(e.event, e.result) for e in events])
        # A failed migration is terminal: start again.
        self.assertEqual('running', self.api.volume_migration_start(
            self.service_ctxt, self.src).status)

    def test_start_on_a_vanished_domain_fails_cleanly(self):
        # The hypervisor lost the guest (deleted behind Nova's back): the
        # start fails and the migration is terminal, not left 'starting'.
        gone = exception.InstanceNotFound(instance_id=self.instance.uuid)
        with mock.patch.object(self.driver, 'get_power_state',
                               side_effect=gone):
            self.assertRaises(exception.NovaVolmigException,
                              self.api.volume_migration_start,
                              self.service_ctxt, self.src)
        record = self.migration_now()
        self.assertEqual('error', record.status)
        self.assertIn(self.instance.uuid, record.error)
        self.assertIsNone(self.instance_now().task_state)
        self.assertEqual(['instance.volume_migration.start',
                          'instance.volume_migration.error'],
                         self.rpc.event_types())

    def _complete_fails_before_switch(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.driver.fail['volume_migration_complete'] = \
            exception.VirtDriverError(reason='copy job never got ready')
        self.assertRaises(exception.VirtDriverError,
                          self.api.volume_migration_complete,
                          self.service_ctxt, self.src,
                          self.dst_attachment())

    def test_complete_failure_before_switch_allows_retry_or_cancel(self):
        self._complete_fails_before_switch()
        record = self.migration_now()
        self.assertEqual('running', record.status)
        self.assertIn('copy job never got ready', record.error)
        self.assertEqual(task_states.VOLUME_MIGRATING,
                         self.instance_now().task_state)
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        self.wait_status('cancelled')

    def test_complete_reads_dsts_attachment_once(self):
        """Cinder waits on one read of dst's attachment, not two.

        The API hands dst's connection_info on to the compute host.
        """
        self.api.volume_migration_start(self.service_ctxt, self.src)
        dst = self.dst_attachment()
        reads = []
        real_get = self.cinder.attachment_get

        def counted(context, attachment_id):
            reads.append(attachment_id)
            return real_get(context, attachment_id)

        with mock.patch.object(self.cinder, 'attachment_get',
                               side_effect=counted):
            self.api.volume_migration_complete(self.service_ctxt, self.src,
                                               dst)
            self.wait_status('completed')
        self.assertEqual([dst], [a for a in reads if a == dst])
        self.assertEqual(
            self.cinder.attachments[dst]['connection_info'],
            self.driver.instances[self.instance.uuid]['disks']['/dev/vdb'])

    def test_complete_again_switches_to_the_new_dst(self):
        # The compute host owns dst's connection_info: a retried complete
        # towards another dst never switches to the first one's.
        self._complete_fails_before_switch()
        # A dst attachment Cinder made without a connector.
        second_volume = self.cinder.create_volume()
        second = self.cinder.attachment_create(None, second_volume,
                                               self.instance.uuid)['id']
        self.api.volume_migration_complete(self.service_ctxt, self.src,
                                           second)
        record = self.wait_status('completed')
        self.assertEqual(second, record.dst_attachment_id)
        self.assertEqual(
            self.cinder.attachments[second]['connection_info'],
            self.driver.instances[self.instance.uuid]['disks']['/dev/vdb'])
        self.assertEqual(
            self.cinder.attachments[second]['connection_info'],
            db.bdm_get_by_volume(self.ctxt, self.instance.uuid,
                                 self.volume_id).connection_info)

    def test_complete_finish_failure(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.driver.fail['volume_migration_complete_finish'] = \
            exception.VirtDriverError(reason='commit did not converge')
        dst = self.dst_attachment()
        self.api.volume_migration_complete(self.service_ctxt, self.src, dst)
        record = self.wait_status('error')
        self.assertIn('commit did not converge', record.error)
        nf.wait_for(lambda: self.instance_now().task_state is None)
        # The guest is on dst: the BDM says so truthfully.
        self.assertEqual(dst, db.bdm_get_by_volume(
            self.ctxt, self.instance.uuid, self.volume_id).attachment_id)
        nf.wait_for(lambda: self.rpc.event_types()[-1] ==
                    'instance.volume_migration.error')

    def test_cancel_finish_failure(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.driver.fail['volume_migration_cancel_finish'] = \
            exception.VirtDriverError(reason='commit to src failed')
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        record = self.wait_status('error')
        self.assertIn('commit to src failed', record.error)
        nf.wait_for(lambda: self.instance_now().task_state is None)

    def test_start_past_deadline_is_undone(self):
        instance = self.instance_now()
        db.instance_update(self.ctxt, instance.uuid,
                           {'task_state': task_states.VOLUME_MIGRATING})
        migration = db.migration_create(self.ctxt, {
            'src_attachment_id': self.src, 'instance_uuid': instance.uuid,
            'volume_id': self.volume_id, 'host': 'compute1',
            'device_name': '/dev/vdb', 'status': 'starting'})
        db.action_start(self.ctxt, instance.uuid, 'volume_migration_start')
        past = (timeutils.utcnow() - datetime.timedelta(seconds=1))
        self.assertRaises(exception.VolumeMigrationFailed,
                          self.host.manager.volume_migration_start,
                          self.ctxt, instance.uuid, migration.id,
                          past.isoformat())
        self.assertEqual('error', db.migration_get(self.ctxt,
                                                   migration.id).status)
        self.assertIsNone(self.instance_now().task_state)
        self.assertIn(('volume_migration_cancel_finish', instance.uuid),
                      self.driver.calls)

    def test_stale_complete_changes_nothing(self):
        # Reconciliation put the record back to running before the
        # broker delivered an old complete: the guest must stay on src.
        self.api.volume_migration_start(self.service_ctxt, self.src)
        migration = self.migration_now()
        self.assertRaises(exception.VolumeMigrationInvalidState,
                          self.host.manager.volume_migration_complete,
                          self.ctxt, self.instance.uuid, migration.id)
        self.assertNotIn(('volume_migration_complete', self.instance.uuid),
                         self.driver.calls)
        self.assertState('running', task_states.VOLUME_MIGRATING)

    def test_complete_past_deadline_changes_nothing(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        dst = self.dst_attachment()
        migration = db.migration_update(
            self.ctxt, self.migration_now().id,
            {'status': 'completing', 'dst_attachment_id': dst},
            {'status': 'running'})
        db.instance_update(self.ctxt, self.instance.uuid, {
            'task_state': task_states.VOLUME_MIGRATION_COMPLETING})
        past = timeutils.utcnow() - datetime.timedelta(seconds=1)
        self.assertRaises(exception.VolumeMigrationFailed,
                          self.host.manager.volume_migration_complete,
                          self.ctxt, self.instance.uuid, migration.id,
                          past.isoformat())
        self.assertNotIn(('volume_migration_complete', self.instance.uuid),
                         self.driver.calls)
        self.assertState('running', task_states.VOLUME_MIGRATING)
        self.assertIn('after the API stopped waiting',
                      self.migration_now().error)
        # Cinder may call complete again.
        self.api.volume_migration_complete(self.service_ctxt, self.src, dst)
        self.wait_status('completed')

    def test_stale_cancel_changes_nothing(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.api.volume_migration_complete(self.service_ctxt, self.src,
                                           self.dst_attachment())
        self.wait_status('completed')
        self.assertRaises(exception.VolumeMigrationInvalidState,
                          self.host.manager.volume_migration_cancel,
                          self.ctxt, self.instance.uuid,
                          self.migration_now().id)
        self.assertNotIn(('volume_migration_cancel_finish',
                          self.instance.uuid), self.driver.calls)

    def test_complete_not_taken_goes_back_to_running(self):
        # E.g. a broker restart dropped the request: no host claimed it,
        # so nothing was switched and the caller may try again.
        self.api.volume_migration_start(self.service_ctxt, self.src)
        db.service_update(self.ctxt, 'ghost', 'nova-volmig-compute',
                          {'supports_live_volume_migration': True})
        db.instance_update(self.ctxt, self.instance.uuid, {'host': 'ghost'})
        self.flags(group='compute', volume_migration_complete_timeout=1)
        dst = self.dst_attachment()
        e = self.assertRaises(exception.ComputeServiceUnavailable,
                              self.api.volume_migration_complete,
                              self.service_ctxt, self.src, dst)
        self.assertIn('nothing was changed', str(e))
        record = self.migration_now()
        self.assertState('running', task_states.VOLUME_MIGRATING)
        self.assertIsNone(record.claimed_by)
        self.assertNotIn(('volume_migration_complete', self.instance.uuid),
                         self.driver.calls)
        db.instance_update(self.ctxt, self.instance.uuid,
                           {'host': 'compute1'})
        self.flags(group='compute', volume_migration_complete_timeout=10)
        self.api.volume_migration_complete(self.service_ctxt, self.src, dst)
        self.wait_status('completed')

    def test_complete_taken_but_slow_stays_completing(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        gate = self.driver.block['volume_migration_complete'] = \
            threading.Event()
        self.addCleanup(gate.set)
        self.flags(group='compute', volume_migration_complete_timeout=1)
        e = self.assertRaises(exception.ComputeServiceUnavailable,
                              self.api.volume_migration_complete,
                              self.service_ctxt, self.src,
                              self.dst_attachment())
        self.assertIn('still running', str(e))
        record = self.migration_now()
        self.assertEqual('completing', record.status)
        self.assertEqual('compute1', record.claimed_by)
        gate.set()
        self.wait_status('completed')
        nf.wait_for(lambda: self.instance_now().task_state is None)

    def test_dead_compute_answers_conflict_at_once(self):
        self.host.service._stop.set()  # no more heartbeats
        self.flags(group='compute', service_down_time=1)
        nf.wait_for(lambda: not db.service_is_up(db.service_get(
            self.ctxt, 'compute1', 'nova-volmig-compute')), timeout=10)
        e = self.assertRaises(exception.ComputeServiceUnavailable,
                              self.api.volume_migration_start,
                              self.service_ctxt, self.src)
        self.assertIn('heartbeat', str(e))
        self.assertIsNone(self.instance_now().task_state)

    def test_unresponsive_compute_answers_conflict(self):
        # Heartbeat fresh, but nothing consumes its RPC queue.
        db.service_update(self.ctxt, 'ghost', 'nova-volmig-compute',
                          {'supports_live_volume_migration': True})
        db.instance_update(self.ctxt, self.instance.uuid, {'host': 'ghost'})
        self.flags(group='compute', volume_migration_start_timeout=1)
        e = self.assertRaises(exception.ComputeServiceUnavailable,
                              self.api.volume_migration_start,
                              self.service_ctxt, self.src)
        self.assertEqual(409, e.code)
        record = self.migration_now()
        self.assertEqual('error', record.status)
        self.assertIsNone(self.instance_now().task_state)

    def test_start_answer_lost_after_running_succeeds(self):
        # The host saved running, then died before its RPC answer: the
        # start happened, so the caller gets the record, not a 409
        # (reliability.rst, "Start answered 409 while the migration
        # runs").
        rpcapi = self.api.compute_rpcapi
        real_start = rpcapi.volume_migration_start

        def start_then_lose_answer(*args, **kwargs):
            real_start(*args, **kwargs)
            raise compute_api.messaging.MessagingTimeout('answer lost')

        with mock.patch.object(rpcapi, 'volume_migration_start',
                               side_effect=start_then_lose_answer):
            migration = self.api.volume_migration_start(self.service_ctxt,
                                                        self.src)
        self.assertEqual('running', migration.status)
        self.assertState('running', task_states.VOLUME_MIGRATING)
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        self.wait_status('cancelled')


class TestReconcile(ComputeTestCase):
    """Start-up reconciliation maps the driver's view onto the records."""

    def _migration(self, status, task_state, driver_data=None,
                   overlay=None):
        instance = self.instance_now()
        db.instance_update(self.ctxt, instance.uuid,
                           {'task_state': task_state})
        dst = self.dst_attachment()
        migration = db.migration_create(self.ctxt, {
            'src_attachment_id': self.src, 'dst_attachment_id': dst,
            'instance_uuid': instance.uuid, 'volume_id': self.volume_id,
            'host': 'compute1', 'status': status,
            'device_name': '/dev/vdb',
            'dst_connection_info':
                self.cinder.attachments[dst]['connection_info'],
            'driver_data': driver_data or {}})
        if overlay:
            self.driver.instances[instance.uuid]['overlay']['/dev/vdb'] = \
                overlay
        return migration, dst

    def reconcile(self):
        self.host.manager._reconcile_volume_migrations(self.ctxt)
        self.host.manager.wait_for_background(30)

    def test_interrupted_start_is_undone(self):
        migration, _ = self._migration('starting',
                                       task_states.VOLUME_MIGRATING,
                                       overlay='start')
        self.reconcile()
        record = db.migration_get(self.ctxt, migration.id)
        self.assertEqual('error', record.status)
        self.assertIn('stopped during start', record.error)
        self.assertIsNone(self.instance_now().task_state)
        self.assertEqual({}, self.driver.instances[self.instance.uuid]
                         ['overlay'])

    def test_running_of_deleted_server_marked_error(self):
        # reliability.rst, "The start overlay outlives its server".
        migration, _ = self._migration('running',
                                       task_states.VOLUME_MIGRATING,
                                       overlay='start')
        db.instance_destroy(self.ctxt, self.instance.uuid)
        self.reconcile()
        record = db.migration_get(self.ctxt, migration.id)
        self.assertEqual('error', record.status)
        self.assertEqual('server deleted', record.error)

    def test_server_delete_ends_running_migration(self):
        # reliability.rst, "The start overlay outlives its server".
        migration, _ = self._migration('running', None, overlay='start')
        self.api.delete(self.ctxt, self.instance_now())
        nf.wait_for(lambda: self.instance.uuid not in self.driver.instances,
                    what='instance destroyed')
        self.host.manager.wait_for_background(30)
        record = db.migration_get(self.ctxt, migration.id)
        self.assertEqual('error', record.status)
        self.assertEqual('server deleted', record.error)
        calls = [c[0] for c in self.driver.calls]
        self.assertLess(calls.index('volume_migration_cancel_finish'),
                        calls.index('destroy'))

    def test_running_stays_running(self):
        migration, _ = self._migration('running',
                                       task_states.VOLUME_MIGRATING,
                                       overlay='start')
        self.reconcile()
        self.assertState('running', task_states.VOLUME_MIGRATING)

    def test_completing_before_switch_goes_back_to_running(self):
        migration, _ = self._migration('completing',
                                       task_states.VOLUME_MIGRATION_COMPLETING,
                                       overlay='start')
        self.reconcile()
        self.assertState('running', task_states.VOLUME_MIGRATING)
        self.assertIn('call complete again or cancel',
                      self.migration_now().error)

    def test_completing_after_switch_finishes(self):
        migration, dst = self._migration(
            'completing', task_states.VOLUME_MIGRATION_COMPLETING,
            driver_data={'switched': True}, overlay='complete')
        self.reconcile()
        self.assertState('completed', None)
        self.assertEqual(dst, db.bdm_get_by_volume(
            self.ctxt, self.instance.uuid, self.volume_id).attachment_id)

    def test_cancelling_finishes(self):
        self._migration('cancelling', task_states.VOLUME_MIGRATION_CANCELLING,
                        overlay='start')
        self.reconcile()
        self.assertState('cancelled', None)


class TestOfflineDriver(ComputeTestCase):
    """The driver without live storage migration (DESIGN 5)."""

    driver_class = offline_driver.OfflineDriver

    def test_running_instance_conflicts(self):
        e = self.assertRaises(exception.VolumeMigrationUnsupported,
                              self.api.volume_migration_start,
                              self.service_ctxt, self.src)
        self.assertEqual(409, e.code)
        self.assertIn('stop', str(e))
        self.assertIsNone(self.instance_now().task_state)

    def _stop(self):
        self.api.stop(self.ctxt, self.instance_now())
        nf.wait_for(lambda: self.instance_now().vm_state ==
                    vm_states.STOPPED and
                    self.instance_now().task_state is None)

    def test_shut_off_complete_repoints_disk(self):
        self._stop()
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.assertState('running', task_states.VOLUME_MIGRATING)
        e = self.assertRaises(exception.InstanceBusy, self.api.start,
                              self.ctxt, self.instance_now())
        self.assertEqual(409, e.code)
        dst = self.dst_attachment()
        self.api.volume_migration_complete(self.service_ctxt, self.src, dst)
        self.wait_status('completed')
        nf.wait_for(lambda: self.instance_now().task_state is None)
        self.assertEqual(
            self.cinder.attachments[dst]['connection_info'],
            self.driver.get_disks(self.instance_now())['/dev/vdb'])
        self.api.start(self.ctxt, self.instance_now())
        nf.wait_for(lambda: self.instance_now().vm_state ==
                    vm_states.ACTIVE)

    def test_shut_off_cancel_keeps_src(self):
        self._stop()
        self.api.volume_migration_start(self.service_ctxt, self.src)
        self.api.volume_migration_cancel(self.service_ctxt, self.src)
        self.wait_status('cancelled')
        nf.wait_for(lambda: self.instance_now().task_state is None)
        # Cinder's connection_info, with the serial Nova adds at attach.
        self.assertEqual(
            dict(self.cinder.attachments[self.src]['connection_info'],
                 serial=self.volume_id),
            self.driver.get_disks(self.instance_now())['/dev/vdb'])

    def test_reconcile_states(self):
        self._stop()
        self.api.volume_migration_start(self.service_ctxt, self.src)
        handle = self.migration_now()
        self.assertEqual(
            virt_driver.ReconcileState.ON_SRC,
            self.driver.volume_migration_reconcile(
                self.ctxt, self.instance_now(), handle))
