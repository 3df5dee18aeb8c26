"""Migration flows against a fake Nova: every branch, statuses in order."""

import errno
import os
import threading
from unittest import mock

import fixtures

from cinder_driver_side.volume import copy_engines
from cinder_driver_side.volume.flows import base as flows_base
from cinder_driver_side.volume import manager
from tests import nova_fixtures
from tests.unit.cinder import base

INSTANCE = '11111111-2222-3333-4444-555555555555'
OK = ['starting', 'migrating', 'completing', 'success']


class AttachedFlowTest(base.CinderTestCase):

    def _attached(self):
        volume_id = self.create_volume()
        att = self.nova.attach(volume_id, INSTANCE)
        src_path = self.path_of(volume_id)
        return volume_id, att, src_path, base.read(src_path)

    def _nova_calls(self, kind):
        return [c for c in self.nova.calls if c[1].startswith(kind)]

    def test_success_keeps_id_and_moves_data(self):
        volume_id, att, src_path, before = self._attached()
        self.nova.guests[att].write(0, b'before')
        before = base.read(src_path)
        hold = self.nova.hold['complete'] = threading.Event()
        self.assertEqual(202, self.migrate(volume_id)[0])
        self.wait_status(volume_id, 'completing')
        # A guest write after start lands in the overlay, src is frozen.
        self.nova.guests[att].write(4096, b'during')
        self.assertEqual(before, base.read(src_path))
        hold.set()
        volume = self.wait_done(volume_id)
        self.assertEqual(OK, self.history[volume_id])
        self.assertEqual('aio@array1#pool2', volume['os-vol-host-attr:host'])
        self.assertEqual(volume_id, volume['id'])
        self.assertFalse(os.path.exists(src_path))
        dst_path = self.path_of(volume_id)
        expected = bytearray(before)
        expected[4096:4102] = b'during'
        self.assertEqual(bytes(expected), base.read(dst_path))
        # B is the volume's only attachment now; A is gone.
        [attachment] = volume['attachments']
        record = self.nova.migrations[att]
        self.assertEqual(record['dst_attachment_id'],
                         attachment['attachment_id'])
        self.assertEqual(volume_id, self.api(
            'GET', '/attachments/%s' % attachment['attachment_id'])[1][
            'attachment']['volume_id'])
        self.assertEqual(404, self.api('GET', '/attachments/%s' % att)[0])
        self.assertEqual(['os-volume-migrations', 'os-volume-migrations/%s/'
                          'action' % att],
                         [c[1] for c in self.nova.calls
                          if c[0] == 'POST'])
        # Migrating again starts from the new attachment.
        self.assertEqual(202, self.migrate(volume_id,
                                           host='aio@array1#pool1')[0])
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])

    def test_start_refused_leaves_src_untouched(self):
        volume_id, att, src_path, before = self._attached()
        self.nova.fail['start'] = (409, 'instance is busy')
        self.migrate(volume_id)
        volume = self.wait_done(volume_id)
        self.assertEqual(['starting', 'error'], self.history[volume_id])
        self.assertEqual('aio@array1#pool1', volume['os-vol-host-attr:host'])
        self.assertEqual(before, base.read(src_path))
        self.assertEqual([], self.pool_files())
        self.assertEqual([], self._nova_calls(
            'os-volume-migrations/%s/action' % att))
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertIn('instance is busy', record.error)
        self.assertEqual(1, len(volume['attachments']))

    def test_start_unreachable_cancels_if_started(self):
        volume_id, att, src_path, before = self._attached()
        self.nova.fail['start'] = (500, 'boom')
        # Cinder reads Nova's record first: the start did happen.
        self.nova.status_after_failed_start = 'running'
        self.migrate(volume_id)
        self.wait_done(volume_id)
        self.assertEqual(['starting', 'error'], self.history[volume_id])
        self.assertIn(('POST', 'os-volume-migrations/%s/action' % att,
                       {'cancel': None}), self.nova.calls)
        self.assertEqual([], self.pool_files())

    def test_start_conflict_but_running_on_nova_cancels(self):
        # Nova answered 409 (its host did not confirm in time) yet the
        # host did the start: Cinder cancels before dropping dst
        # (reliability.rst, "Start answered 409 while the migration
        # runs").
        volume_id, att, src_path, before = self._attached()
        self.nova.fail['start'] = (409, 'start was not confirmed')
        self.nova.status_after_failed_start = 'running'
        self.migrate(volume_id)
        self.wait_done(volume_id)
        self.assertEqual(['starting', 'error'], self.history[volume_id])
        self.assertIn(('POST', 'os-volume-migrations/%s/action' % att,
                       {'cancel': None}), self.nova.calls)
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        self.assertEqual([], self.pool_files())

    def test_start_timeout_while_starting_waits_then_cancels(self):
        # Nova's record still says starting: Cinder waits for the host's
        # verdict (here running) and then cancels.
        volume_id, att, src_path, before = self._attached()
        self.nova.fail['start'] = (504, 'gateway timeout')
        self.nova.status_after_failed_start = 'starting'

        def host_finishes_start():
            nf_wait = threading.Event()
            while not nf_wait.wait(0.05):
                record = self.nova.migrations.get(att)
                if record is not None:
                    nf_wait.wait(0.5)
                    record['status'] = 'running'
                    return
        threading.Thread(target=host_finishes_start, daemon=True).start()
        self.migrate(volume_id)
        self.wait_done(volume_id)
        self.assertEqual(['starting', 'error'], self.history[volume_id])
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        self.assertEqual([], self.pool_files())

    def test_start_conflict_without_record_does_not_cancel(self):
        volume_id, att, src_path, before = self._attached()
        self.nova.fail['start'] = (409, 'start was not confirmed')
        self.migrate(volume_id)
        self.wait_done(volume_id)
        self.assertEqual(['starting', 'error'], self.history[volume_id])
        self.assertEqual([], self._nova_calls(
            'os-volume-migrations/%s/action' % att))
        self.assertIn(('GET', 'os-volume-migrations/%s' % att),
                      [c[:2] for c in self.nova.calls])

    def test_copy_failure_cancels_and_keeps_src(self):
        volume_id, att, src_path, before = self._attached()

        def enospc(*args, **kwargs):
            raise OSError(errno.ENOSPC, 'No space left on device')
        hold = self.nova.hold['cancel'] = threading.Event()
        with mock.patch.object(copy_engines.NativeCopy, '_copy',
                               side_effect=enospc):
            self.migrate(volume_id)
            self.wait_status(volume_id, 'migrating')
            self.nova.guests[att].write(0, b'guest write during copy')
            hold.set()
            self.wait_done(volume_id)
        self.assertEqual(['starting', 'migrating', 'error'],
                         self.history[volume_id])
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        expected = b'guest write during copy' + before[23:]
        self.assertEqual(expected, base.read(src_path))
        self.assertEqual([], self.pool_files())
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertIn('No space left', record.error)
        # The volume can be migrated again.
        self.migrate(volume_id)
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual(expected, base.read(self.path_of(volume_id)))

    def _complete_fails(self, nova_status):
        volume_id, att, src_path, before = self._attached()
        self.nova.fail['complete'] = (500, 'lost')
        self.nova.status_after_failed_complete = nova_status
        self.migrate(volume_id)
        return volume_id, att, src_path, before, self.wait_done(volume_id)

    def test_complete_failed_but_nova_switched(self):
        volume_id, att, src_path, before, volume = \
            self._complete_fails('completed')
        self.assertEqual(OK, self.history[volume_id])
        self.assertFalse(os.path.exists(src_path))
        self.assertEqual(before, base.read(self.path_of(volume_id)))

    def test_complete_failed_nova_running_cancels(self):
        volume_id, att, src_path, before, volume = \
            self._complete_fails('running')
        self.assertEqual(['starting', 'migrating', 'completing', 'error'],
                         self.history[volume_id])
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        self.assertEqual(before, base.read(src_path))
        self.assertEqual([], self.pool_files())

    def test_complete_failed_waits_out_completing_then_retries(self):
        # "completing" is not "switched": Nova may yet fail the switch
        # and go back to running, with the guest still reading src.
        volume_id, att, src_path, before = self._attached()
        self.nova.fail['complete'] = (500, 'lost')
        self.nova.status_after_failed_complete = 'completing'
        self.migrate(volume_id)
        nova_fixtures.wait_for(
            lambda: [c for c in self.nova.calls if c[0] == 'GET'
                     and c[1].startswith('os-volume-migrations/')],
            what='Cinder asking Nova')
        self.assertTrue(os.path.exists(src_path))
        self.assertEqual('completing',
                         self.volume(volume_id)['migration_status'])
        # Nova reports it switched nothing (e.g. the request was never
        # taken): Cinder calls complete again, which now goes through.
        del self.nova.fail['complete']
        self.nova.migrations[att]['status'] = 'running'
        self.wait_done(volume_id)
        self.assertEqual(OK, self.history[volume_id])
        self.assertFalse(os.path.exists(src_path))
        self.assertEqual(before, base.read(self.path_of(volume_id)))

    def test_complete_failed_nova_error_keeps_everything(self):
        volume_id, att, src_path, before, volume = \
            self._complete_fails('error')
        self.assertEqual(['starting', 'migrating', 'completing', 'error'],
                         self.history[volume_id])
        self.assertEqual(before, base.read(src_path))
        self.assertEqual(1, len(self.pool_files()))

    def _migrating_with_endless_copy(self):
        """An attached volume whose copy runs until the flow is aborted."""
        volume_id, att, src_path, before = self._attached()
        started = threading.Event()

        def slow_copy(engine, src, dst, size, report, limiter, chunk):
            started.set()
            while True:
                report(0)
                threading.Event().wait(0.01)
        self.useFixture(fixtures.MockPatchObject(
            copy_engines.NativeCopy, '_copy', new=slow_copy))
        self.migrate(volume_id)
        self.assertTrue(started.wait(10))
        return volume_id, att

    def test_stop_aborts_copy_and_cancels(self):
        volume_id, att = self._migrating_with_endless_copy()
        self.svc.manager.stop(stop_exports=False)
        self.assertEqual(['starting', 'migrating', 'error'],
                         self.history[volume_id])
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        self.assertEqual([], self.pool_files())

    def test_stop_does_not_wait_out_a_slow_nova_cancel(self):
        volume_id, att = self._migrating_with_endless_copy()
        # Nova is still busy with this migration: cancel answers 409 and
        # the record is not terminal for a long while.
        self.nova.migrations[att]['status'] = 'cancelling'
        flow = self.svc.manager.get_flow(volume_id)
        self.svc.manager.stop(timeout=30, stop_exports=False)
        self.assertFalse(flow.is_alive(), 'the flow outlived the stop')
        self.assertEqual(['starting', 'migrating', 'error'],
                         self.history[volume_id])
        self.assertEqual([], self.pool_files())

    def test_recovery_after_crash_during_copy(self):
        volume_id, att, src_path, before = self._attached()
        release = threading.Event()
        self.addCleanup(release.set)

        def stuck_copy(engine, *args):
            release.wait(30)
            raise OSError(errno.EIO, 'the old service is gone')
        self.useFixture(fixtures.MockPatchObject(
            copy_engines.NativeCopy, '_copy', new=stuck_copy))
        self.migrate(volume_id)
        self.wait_status(volume_id, 'migrating')
        # A new service on the same database, as after a crash.
        survivor = manager.VolumeManager(self.cconf, self.svc.db)
        survivor.init_host()
        for _ in range(400):
            if survivor.get_flow(volume_id) is None:
                break
            threading.Event().wait(0.05)
        volume = self.volume(volume_id)
        self.assertEqual('error', volume['migration_status'])
        self.assertEqual('cancelled', self.nova.migrations[att]['status'])
        self.assertEqual(before, base.read(src_path))
        self.assertEqual([], self.pool_files())
        release.set()
        self.wait_done(volume_id)
        self.assertEqual(before, base.read(src_path))

    def test_recovery_resolves_completing(self):
        volume_id, att, src_path, before = self._attached()
        self.nova.fail['complete'] = (500, 'lost')
        self.nova.status_after_failed_complete = 'completed'
        # Nova unreachable when asked: the flow leaves "completing".
        real_get = self.svc.manager.nova.get_volume_migration
        from cinder_driver_side import exception

        def unreachable(att_id):
            raise exception.NovaConnectionFailed(reason='down')
        self.svc.manager.nova.get_volume_migration = unreachable
        self.migrate(volume_id)
        self.wait_status(volume_id, 'completing')
        for _ in range(200):
            if self.svc.manager.get_flow(volume_id) is None:
                break
            threading.Event().wait(0.05)
        self.assertEqual('completing', self.volume(volume_id)[
            'migration_status'])
        # Restart: the new service reads Nova's record and finishes.
        self.svc.manager.nova.get_volume_migration = real_get
        self.svc.stop(stop_exports=False)
        self.svc.start()
        self.nova.cinder_endpoint = self.svc.endpoint
        volume = self.wait_done(volume_id)
        self.assertEqual('success', volume['migration_status'])
        self.assertFalse(os.path.exists(src_path))
        self.assertEqual(before, base.read(self.path_of(volume_id)))


class DetachedFlowTest(base.CinderTestCase):

    def test_native_within_array(self):
        volume_id = self.create_volume()
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        self.assertEqual(202, self.migrate(volume_id)[0])
        volume = self.wait_done(volume_id)
        self.assertEqual(OK, self.history[volume_id])
        self.assertEqual([], self.nova.calls)
        self.assertIsNone(volume['os-vol-mig-status-attr:name_id'])
        self.assertEqual(['volume-%s' % volume_id], self.pool_files())
        self.assertEqual(before, base.read(self.path_of(volume_id)))
        self.assertFalse(os.path.exists(src_path))
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertEqual('native', record.copy_engine)

    def test_success_shows_only_after_src_is_gone(self):
        volume_id = self.create_volume()
        src_path = self.path_of(volume_id)
        src_present_at_success = []
        end = self.svc.db.migration_end

        def spy(ctx, mid, vid, volume_values, values):
            if volume_values.get('migration_status') == 'success':
                src_present_at_success.append(os.path.exists(src_path))
            return end(ctx, mid, vid, volume_values, values)
        self.svc.db.migration_end = spy
        self.migrate(volume_id, host='aio@array2#pool1')
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual([False], src_present_at_success)

    def _record_finished_whenever_the_volume_ends(self, volume_id):
        """After every write of the volume: terminal there, finished here.

        A client polling the volume reads the record as soon as it sees
        ``success`` or ``error`` (the bench does): it must be finished.
        """
        seen = []
        db = self.svc.db
        last = [None]

        def check(write):
            def spy(*args, **kwargs):
                result = write(*args, **kwargs)
                ctx = base._admin()
                status = db.volume_get(ctx, volume_id).migration_status
                changed, last[0] = status != last[0], status
                if changed and status in ('success', 'error', 'cancelled'):
                    record = self.svc.manager.get_migration(ctx, volume_id)
                    seen.append((status, record.status,
                                 record.finished_at is not None))
                return result
            return spy
        for name in ('volume_update', 'migration_update', 'migration_end'):
            if hasattr(db, name):
                setattr(db, name, check(getattr(db, name)))
        return seen

    def test_volume_ends_with_its_record_on_success_and_error(self):
        volume_id = self.create_volume()
        seen = self._record_finished_whenever_the_volume_ends(volume_id)
        self.migrate(volume_id, host='aio@array2#pool1')
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual([('success', 'success', True)], seen)
        del seen[:]
        self.nova.fail['start'] = (409, 'instance is busy')
        self.nova.attach(volume_id, INSTANCE)
        self.migrate(volume_id, host='aio@array1#pool1')
        self.assertEqual('error',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual([('error', 'error', True)], seen)

    def test_restart_after_switch_finishes_deleting_src(self):
        # A restart between the switch and the deletion of src's data:
        # recovery deletes it and reports success, keeping dst.
        volume_id = self.create_volume()
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        crashed = threading.Event()
        hang = threading.Event()
        self.addCleanup(hang.set)

        def crash(flow, old_backend_name):
            # The old service dies here: its thread never goes on.
            crashed.set()
            hang.wait(60)
        with fixtures.MockPatchObject(flows_base.MigrationFlow,
                                      '_finish_switched', new=crash):
            self.migrate(volume_id, host='aio@array2#pool1')
            nova_fixtures.wait_for(crashed.is_set, what='the switch')
        self.assertTrue(os.path.exists(src_path))
        self.assertEqual('completing',
                         self.volume(volume_id)['migration_status'])
        # A new service on the same database, as after a crash.
        survivor = manager.VolumeManager(self.cconf, self.svc.db)
        survivor.init_host()
        self.addCleanup(survivor.stop)
        volume = nova_fixtures.wait_for(
            lambda: (lambda v: v if v['migration_status'] == 'success'
                     else None)(self.volume(volume_id)),
            what='recovered success')
        self.assertEqual('success', volume['migration_status'])
        self.assertFalse(os.path.exists(src_path))
        self.assertEqual(before, base.read(self.path_of(volume_id)))

    def test_generic_between_arrays_and_force_host_copy(self):
        volume_id = self.create_volume()
        before = base.read(self.path_of(volume_id))
        self.migrate(volume_id, host='aio@array2#pool1')
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertEqual('generic', record.copy_engine)
        self.assertEqual(before, base.read(self.path_of(volume_id)))
        self.migrate(volume_id, host='aio@array2#pool1')  # same host
        self.migrate(volume_id, host='aio@array1#pool1',
                     force_host_copy=True)
        self.wait_done(volume_id)
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertEqual('generic', record.copy_engine)

    def _engine_spies(self) -> list[str]:
        """Names of the copy engines whose ``_copy`` ran, in order."""
        used = []
        for engine in (copy_engines.NativeCopy, copy_engines.GenericCopy):
            def spy(self_, *args, _real=engine._copy, _name=engine.name):
                used.append(_name)
                return _real(self_, *args)
            self.useFixture(fixtures.MockPatchObject(engine, '_copy',
                                                     new=spy))
        return used

    def test_force_host_copy_between_pools_of_one_array_is_generic(self):
        """Same array, where native would be chosen: the flag wins."""
        used = self._engine_spies()
        volume_id = self.create_volume()
        before = base.read(self.path_of(volume_id))
        self.migrate(volume_id, host='aio@array1#pool2')
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertEqual(('native', ['native']), (record.copy_engine, used))
        del used[:]
        self.migrate(volume_id, host='aio@array1#pool1',
                     force_host_copy=True)
        volume = self.wait_done(volume_id)
        self.assertEqual('success', volume['migration_status'])
        self.assertEqual('aio@array1#pool1', volume['os-vol-host-attr:host'])
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertEqual('generic', record.copy_engine)
        self.assertEqual('read_write', record.copy_method)
        self.assertEqual(['generic'], used)
        self.assertEqual(before, base.read(self.path_of(volume_id)))

    def test_lock_volume_sets_maintenance(self):
        volume_id = self.create_volume()
        seen = []
        real = copy_engines.NativeCopy._copy

        def spy(engine, *args):
            seen.append(self.svc.db.volume_get(base._admin(),
                                               volume_id).status)
            return real(engine, *args)
        self.useFixture(fixtures.MockPatchObject(
            copy_engines.NativeCopy, '_copy', new=spy))
        self.migrate(volume_id, lock_volume=True)
        volume = self.wait_done(volume_id)
        self.assertEqual(['maintenance'], seen)
        self.assertEqual('available', volume['status'])

    def test_unlocked_migration_yields_to_attach(self):
        volume_id = self.create_volume()
        started = threading.Event()

        def slow_copy(engine, src, dst, size, report, limiter, chunk):
            started.set()
            while True:
                report(0)
                threading.Event().wait(0.01)
        self.useFixture(fixtures.MockPatchObject(
            copy_engines.NativeCopy, '_copy', new=slow_copy))
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        self.migrate(volume_id)
        self.assertTrue(started.wait(10))
        self.nova.attach(volume_id, INSTANCE)
        volume = self.volume(volume_id)
        self.assertEqual('error', volume['migration_status'])
        self.assertEqual('in-use', volume['status'])
        self.assertEqual(before, base.read(src_path))
        self.assertEqual([], self.pool_files())

    def test_retype_on_demand(self):
        self.api('POST', '/types', {'volume_type': {
            'name': 'gold', 'extra_specs': {'volume_backend_name': 'array2'}}})
        volume_id = self.create_volume()
        before = base.read(self.path_of(volume_id))
        status, body = self.api('POST', '/volumes/%s/action' % volume_id,
                                {'os-retype': {'new_type': 'gold'}})
        self.assertEqual(400, status)
        self.assertIn('Retype requires migration', body['badRequest'][
            'message'])
        status, _ = self.api('POST', '/volumes/%s/action' % volume_id,
                             {'os-retype': {'new_type': 'gold',
                                            'migration_policy': 'on-demand'}})
        self.assertEqual(202, status)
        volume = self.wait_done(volume_id)
        self.assertEqual('gold', volume['volume_type'])
        self.assertEqual('aio@array2#pool1', volume['os-vol-host-attr:host'])
        self.assertEqual(before, base.read(self.path_of(volume_id)))


class RefusalTest(base.CinderTestCase):

    def _message(self, result):
        status, body = result
        self.assertEqual(400, status, body)
        return body['badRequest']['message']

    def test_multiattach_attached_refused(self):
        volume_id = self.create_volume(multiattach=True)
        self.nova.attach(volume_id, INSTANCE)
        self.assertIn('multiattach', self._message(self.migrate(volume_id)))
        self.assertIsNone(self.volume(volume_id)['migration_status'])

    def test_already_migrating_refused(self):
        volume_id = self.create_volume()
        self.nova.attach(volume_id, INSTANCE)
        hold = self.nova.hold['start'] = threading.Event()
        self.addCleanup(hold.set)
        self.assertEqual(202, self.migrate(volume_id)[0])
        self.assertIn('already part of an active migration',
                      self._message(self.migrate(volume_id)))
        hold.set()
        self.wait_done(volume_id)

    def test_concurrent_migrations_one_wins(self):
        volume_id = self.create_volume()
        self.nova.attach(volume_id, INSTANCE)
        hold = self.nova.hold['start'] = threading.Event()
        self.addCleanup(hold.set)
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            self.migrate(volume_id)[0])) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([202, 400, 400, 400], sorted(results))
        hold.set()
        self.wait_done(volume_id)

    def test_bad_hosts(self):
        volume_id = self.create_volume()
        self.assertIn('different than the current host', self._message(
            self.migrate(volume_id, host='aio@array1#pool1')))
        self.assertIn('no pool named', self._message(
            self.migrate(volume_id, host='aio@array9#pool1')))
        self.assertIn('host@backend#pool', self._message(
            self.migrate(volume_id, host='nonsense')))

    def test_detach_and_delete_refused_while_migrating(self):
        volume_id = self.create_volume()
        att = self.nova.attach(volume_id, INSTANCE)
        hold = self.nova.hold['start'] = threading.Event()
        self.addCleanup(hold.set)
        self.migrate(volume_id)
        self.assertIn('migrating', self._message(
            self.api('DELETE', '/attachments/%s' % att)))
        self.assertIn('migrating', self._message(
            self.api('DELETE', '/volumes/%s' % volume_id)))
        hold.set()
        self.wait_done(volume_id)


class LegacyFlowTest(base.CinderTestCase):

    def setUp(self):
        super().setUp()
        self.cconf.set_override('attached_migration_mode', 'legacy')

    def test_swap_and_completion_callback(self):
        volume_id = self.create_volume()
        att = self.nova.attach(volume_id, INSTANCE)
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        self.nova.swap_delay = 0.3
        self.migrate(volume_id)
        volume = self.wait_done(volume_id)
        self.assertEqual(OK, self.history[volume_id])
        swap = self.nova.swaps[(INSTANCE, volume_id)]
        self.assertEqual({'save_volume_id': volume_id}, swap['result'])
        self.assertIn('404', swap['old_attachment_delete'])
        self.assertFalse(os.path.exists(src_path))
        self.assertEqual(before, base.read(self.path_of(volume_id)))
        self.assertEqual(1, len(volume['attachments']))
        self.assertNotEqual(att, volume['attachments'][0]['attachment_id'])
        self.assertEqual(['volume-%s' % volume['os-vol-mig-status-attr:'
                                               'name_id']],
                         self.pool_files())

    def test_swap_error_callback(self):
        volume_id = self.create_volume()
        self.nova.attach(volume_id, INSTANCE)
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        self.nova.swap_error = True
        self.migrate(volume_id)
        volume = self.wait_done(volume_id)
        self.assertEqual(['starting', 'migrating', 'error'],
                         self.history[volume_id])
        self.assertEqual(before, base.read(src_path))
        self.assertEqual([], self.pool_files())
        self.assertEqual('in-use', volume['status'])

    def test_force_host_copy_attached_uses_swap(self):
        self.cconf.set_override('attached_migration_mode',
                                'volume_migration')
        volume_id = self.create_volume()
        self.nova.attach(volume_id, INSTANCE)
        self.migrate(volume_id, force_host_copy=True)
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        self.assertIn((INSTANCE, volume_id), self.nova.swaps)


class PhaseTimesTest(base.CinderTestCase):
    """The record says when each step ran (read by volmig-bench)."""

    def _record(self, volume_id):
        status, body = self.api('GET', '/volumes/%s/migration' % volume_id)
        self.assertEqual(200, status)
        return body['migration']

    def test_attached_phases_in_order(self):
        volume_id = self.create_volume()
        self.nova.attach(volume_id, INSTANCE)
        self.migrate(volume_id)
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        record = self._record(volume_id)
        phases = record['phase_times']
        order = ['nova_start_called', 'nova_start_returned', 'copy_started',
                 'copy_finished', 'nova_complete_called',
                 'nova_complete_returned']
        self.assertEqual(sorted(order), sorted(phases))
        self.assertEqual(sorted(phases[k] for k in order),
                         [phases[k] for k in order])
        self.assertLessEqual(phases['nova_complete_returned'],
                             record['finished_at'])
        self.assertIn(record['copy_method'],
                      ('reflink', 'copy_file_range', 'read_write'))

    def test_legacy_phases(self):
        self.cconf.set_override('attached_migration_mode', 'legacy')
        volume_id = self.create_volume()
        self.nova.attach(volume_id, INSTANCE)
        self.nova.swap_delay = 0.2
        self.migrate(volume_id)
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        record = self._record(volume_id)
        phases = record['phase_times']
        self.assertEqual(['completion_callback', 'swap_called',
                          'swap_returned'], sorted(phases))
        self.assertLessEqual(phases['swap_called'],
                             phases['completion_callback'])
        self.assertIsNone(record['copy_method'])


class ProgressWritesTest(base.CinderTestCase):
    """Progress reaches the database at most every PROGRESS_INTERVAL."""

    def test_progress_writes_are_spaced(self):
        self.useFixture(fixtures.MonkeyPatch(
            'cinder_driver_side.volume.flows.base.PROGRESS_INTERVAL', 3600))
        self.useFixture(fixtures.MonkeyPatch(
            'cinder_driver_side.volume.copy_engines.DEFAULT_CHUNK', 64 * 1024))
        written = []
        db = self.svc.db
        original = db.migration_update

        def spy(ctx, migration_id, values, expected=None):
            if 'progress' in values and values.get('status') is None:
                written.append(values['progress'])
            return original(ctx, migration_id, values, expected)

        db.migration_update = spy
        volume_id = self.create_volume(size=8 * base.MiB)
        self.nova.attach(volume_id, INSTANCE)
        self.migrate(volume_id)
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        # 128 chunks, yet only the first and the last percent written.
        self.assertEqual(['0', '100'], written)
