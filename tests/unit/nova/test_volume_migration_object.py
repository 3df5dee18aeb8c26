"""The VolumeMigration object: its transitions and what it keeps.

On a real (SQLite file) database: each transition is a compare-and-swap
that raises the 409 conflict when the record moved on, connection_info is
data (JSON only inside the database), and the device name is the record's.
"""

import sqlalchemy as sa

from nova_volmig.compute import task_states
from nova_volmig.db import api as db
from nova_volmig.db import migration as db_migration
from nova_volmig import exception
from nova_volmig.objects import fields
from nova_volmig.objects import volume_migration as vm_obj
from tests import base
from tests import nova_fixtures as nf

Status = fields.VolumeMigrationStatus
CI = {'driver_volume_type': 'file',
      'data': {'device_path': '/srv/vol-a', 'format': 'raw'}}
DST_CI = {'driver_volume_type': 'file',
          'data': {'device_path': '/srv/vol-b', 'format': 'raw'}}


class VolumeMigrationObjectTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(nf.Database(self.state_file('nova.sqlite')))
        self.ctxt = nf.user_context()
        self.instance = db.instance_create(self.ctxt, {
            'uuid': 'a0a0a0a0-0000-4000-8000-000000000001',
            'display_name': 'vm1', 'project_id': self.ctxt.project_id,
            'user_id': self.ctxt.user_id,
            'host': 'compute1', 'vm_state': 'active',
            'task_state': task_states.VOLUME_MIGRATING})
        self.bdm = db.bdm_create(self.ctxt, {
            'instance_uuid': self.instance.uuid, 'volume_id': 'vol-1',
            'attachment_id': 'att-src', 'device_name': '/dev/vdb',
            'connection_info': CI})
        self.migration = vm_obj.VolumeMigration.create(self.ctxt, self.bdm,
                                                       'compute1')

    def raw(self, column: str):
        """The column's text as the database holds it."""
        with db.get_engine().connect() as conn:
            return conn.execute(sa.text(
                'SELECT %s FROM volume_migrations WHERE id = :id' % column),
                {'id': self.migration.id}).scalar_one()

    def test_create_copies_the_bdm(self):
        m = vm_obj.VolumeMigration.get_by_id(self.ctxt, self.migration.id)
        self.assertEqual(Status.STARTING, m.status)
        self.assertEqual('/dev/vdb', m.device_name)
        self.assertEqual(CI, m.src_connection_info)
        self.assertEqual({}, m.driver_data)
        self.assertTrue(m.active)

    def test_connection_info_is_data_json_only_in_the_database(self):
        self.migration.set_dst_connection_info(DST_CI)
        self.assertEqual(DST_CI, self.migration.dst_connection_info)
        self.assertEqual(DST_CI, vm_obj.VolumeMigration.get_by_id(
            self.ctxt, self.migration.id).dst_connection_info)
        self.assertIsInstance(self.raw('dst_connection_info'), str)
        self.assertIn('/srv/vol-b', self.raw('dst_connection_info'))
        self.assertEqual(CI, db.bdm_get_by_id(self.ctxt,
                                              self.bdm.id).connection_info)

    def test_no_dst_connection_info_is_null(self):
        self.assertIsNone(self.raw('dst_connection_info'))

    def test_start_complete_transitions(self):
        m = self.migration
        m.mark_running()
        self.assertEqual(Status.RUNNING, m.status)
        m.begin_complete('att-dst')
        self.assertEqual((Status.COMPLETING, 'att-dst', None),
                         (m.status, m.dst_attachment_id, m.claimed_by))
        m.claim_complete('compute1')
        self.assertEqual('compute1', m.claimed_by)
        m.complete_finished()
        self.assertEqual(Status.COMPLETED, m.refresh().status)
        self.assertFalse(m.active)

    def test_stale_transition_is_the_409_conflict(self):
        self.migration.mark_running()
        other = vm_obj.VolumeMigration.get_by_id(self.ctxt,
                                                 self.migration.id)
        self.migration.begin_cancel()
        e = self.assertRaises(exception.VolumeMigrationInvalidState,
                              other.begin_complete, 'att-dst')
        self.assertEqual(409, e.code)
        self.assertIn('its status is cancelling, not running', str(e))
        self.assertEqual(Status.CANCELLING, other.status)
        self.assertEqual(Status.CANCELLING, self.migration.refresh().status)

    def test_claimed_complete_cannot_be_undone_by_the_api(self):
        self.migration.mark_running()
        self.migration.begin_complete('att-dst')
        self.migration.claim_complete('compute1')
        e = self.assertRaises(exception.VolumeMigrationInvalidState,
                              self.migration.complete_not_taken, 'late')
        self.assertIn('completing (claimed by compute1), not completing, '
                      'unclaimed', str(e))
        self.assertRaises(exception.VolumeMigrationInvalidState,
                          self.migration.claim_complete, 'compute2')

    def test_finish_and_its_job_bytes_persist(self):
        self.migration.set_job_bytes(5, 10)  # no finish running: ignored
        self.assertNotIn('finish', self.migration.driver_data)
        self.migration.set_finish(state='queued', queue_position=2)
        self.migration.set_job_bytes(5, 10)  # still only queued
        self.migration.set_finish(state='running', queue_position=None)
        self.migration.set_job_bytes(5 << 20, 10 << 20)
        self.migration.save_driver_data(step='complete:commit')
        stored = db.migration_get(self.ctxt, self.migration.id).driver_data
        self.assertEqual({'state': 'running', 'queue_position': None,
                          'bytes_done': 5 << 20, 'bytes_total': 10 << 20},
                         stored['finish'])
        self.assertEqual('complete:commit', stored['step'])

    def test_complete_not_taken_moves_the_instance_too(self):
        self.migration.mark_running()
        self.migration.begin_complete('att-dst')
        db.instance_update(self.ctxt, self.instance.uuid, {
            'task_state': task_states.VOLUME_MIGRATION_COMPLETING})
        self.migration.complete_not_taken('nobody took it')
        self.assertEqual((Status.RUNNING, 'nobody took it'),
                         (self.migration.status, self.migration.error))
        self.assertEqual(task_states.VOLUME_MIGRATING, db.instance_get(
            self.ctxt, self.instance.uuid).task_state)

    def test_instance_mismatch_changes_neither(self):
        self.migration.mark_running()
        self.migration.begin_complete('att-dst')
        # The instance is in no volume-migration task state (several of
        # its volumes may migrate, so any of those would do): its swap
        # fails.
        db.instance_update(self.ctxt, self.instance.uuid,
                           {'task_state': None})
        self.assertRaises(db.UnexpectedValues,
                          self.migration.complete_undone, 'x')
        self.assertEqual(Status.COMPLETING, self.migration.refresh().status)
        self.migration.complete_undone('x', check_task_state=False)
        self.assertEqual(Status.RUNNING, self.migration.status)

    def test_begin_complete_forgets_an_earlier_dst(self):
        self.migration.mark_running()
        self.migration.begin_complete('att-dst-1')
        self.migration.set_dst_connection_info(DST_CI)
        self.migration.complete_undone('x', check_task_state=False)
        self.migration.begin_complete('att-dst-2')
        self.assertIsNone(self.migration.refresh().dst_connection_info)

    def test_fail_from_any_status(self):
        self.migration.fail('broken')
        self.assertEqual((Status.ERROR, 'broken', None),
                         (self.migration.status, self.migration.error,
                          self.migration.progress))

    def test_driver_data_survives_a_transition(self):
        self.migration.save_driver_data(overlay='/x.qcow2')
        self.migration.mark_running()
        self.assertEqual({'overlay': '/x.qcow2'}, self.migration.driver_data)
        self.migration.save_driver_data(switched=True)
        self.assertEqual({'overlay': '/x.qcow2', 'switched': True},
                         vm_obj.VolumeMigration.get_by_id(
                             self.ctxt, self.migration.id).driver_data)

    def test_progress_is_throttled_but_final_values_written(self):
        self.flags(group='compute', progress_update_interval=3600)
        self.migration.set_progress(10)
        self.migration.set_progress(20)
        self.assertEqual('10', self.migration.refresh().progress)
        self.migration.set_progress(100)
        self.assertEqual('100', self.migration.refresh().progress)


class DeviceNameMigrationTestCase(base.TestCase):
    """Schema 0003 gives older records their BDM's device name."""

    def test_backfill_from_the_bdm(self):
        db.configure('sqlite:///%s' % self.state_file('nova.sqlite'))
        self.addCleanup(db.dispose)
        db_migration.db_sync('0002')
        ctxt = nf.admin_context()
        db.instance_create(ctxt, {'uuid': 'i1', 'project_id': 'p',
                                  'user_id': 'u', 'vm_state': 'active'})
        db.bdm_create(ctxt, {'instance_uuid': 'i1', 'volume_id': 'v1',
                             'attachment_id': 'dst',
                             'device_name': '/dev/vdc'})
        with db.get_engine().begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO volume_migrations (src_attachment_id, "
                "dst_attachment_id, instance_uuid, volume_id, status, "
                "created_at) VALUES ('src', 'dst', 'i1', 'v1', "
                "'completing', '2026-01-01 00:00:00')"))
        db_migration.db_sync()
        [m] = vm_obj.VolumeMigration.list(ctxt)
        self.assertEqual('/dev/vdc', m.device_name)
