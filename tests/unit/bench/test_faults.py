"""The fault scenario's cases, triggers, verdicts and table (no services)."""

import json
import os
from unittest import mock

from tests import base
from volmig_bench import cli
from volmig_bench import exception
from volmig_bench.faults import cases
from volmig_bench.faults import checks
from volmig_bench.faults import injector
from volmig_bench.faults import run
from volmig_bench import flows

OK = {'verdict': 'ok', 'ok': 10, 'newer': 1, 'stale': 0, 'missing': 0,
      'corrupt': 0, 'acknowledged': 5}


def _row(**kw) -> dict:
    row = {'case': 'kill-compute-after-start', 'iteration': 0,
           'outcome': 'success/completed', 'fired_at': 'started',
           'src_at_start': dict(OK, unchanged=True),
           'after_migration': dict(OK, on='dst'), 'final': dict(OK),
           'leaks': {'overlays': [], 'orphan_volume_files': []}}
    row.update(kw)
    row['passed'] = checks.passed(row)
    return row


class CasesTestCase(base.TestCase):

    def test_every_case_runs_a_registered_flow(self):
        for case in cases.CASES:
            flows.get(case.flow)
            self.assertEqual(case.fault is None, case.trigger is None,
                             case.name)

    def test_names_are_unique(self):
        self.assertEqual(len(cases.CASES), len(set(cases.names())))

    def test_no_fault_cases_come_first_one_per_flow(self):
        first = cases.CASES[:len(flows.FLOWS)]
        self.assertEqual(set(flows.FLOWS), {c.flow for c in first})
        self.assertTrue(all(c.fault is None for c in first))

    def test_select_by_prefix_in_registration_order(self):
        picked = cases.select('kill-compute-async,none')
        self.assertEqual(['none-two_step', 'none-write_blocking',
                          'none-rebase', 'none-legacy',
                          'kill-compute-async-commit'],
                         [c.name for c in picked])
        self.assertEqual(list(cases.CASES), cases.select(None))
        self.assertEqual([], cases.select('nothing'))

    def test_enospc_cases_use_the_small_pool(self):
        for case in cases.CASES:
            self.assertEqual(case.full_dst_pool or case.full_overlay_dir,
                             case.backend == cases.SMALL_BACKEND, case.name)

    def test_rebase_cases_run_on_the_nbd_array(self):
        # complete by rebase switches network volumes only: on a file
        # array these cases would run two_step and prove nothing.
        rebase = [c for c in cases.CASES if c.flow == 'new-rebase']
        self.assertGreaterEqual(len(rebase), 5)
        for case in rebase:
            self.assertEqual(cases.NBD_BACKEND, case.backend, case.name)

    def test_cinder_killed_while_it_deletes_src(self):
        case = {c.name: c for c in cases.CASES}['kill-cinder-deleting-src']
        self.assertEqual(injector.CINDER, case.service)
        self.assertEqual('cinder-switched', case.trigger.source)
        # The delete is held longer than the trigger's delay plus a poll:
        # the kill lands inside it.
        self.assertGreater(case.slow_src_delete, case.trigger.delay + 1)

    def test_every_fault_has_a_case(self):
        faults = {c.fault for c in cases.CASES}
        self.assertEqual({None, cases.KILL_COMPUTE, cases.KILL_CINDER,
                          cases.RESTART_LIBVIRTD, cases.RESTART_RABBITMQ,
                          cases.FILL_OVERLAY_DIR}, faults)

    def test_services(self):
        by_name = {c.name: c for c in cases.CASES}
        self.assertEqual(injector.LIVE,
                         by_name['kill-compute-after-start'].service)
        self.assertEqual(injector.CINDER,
                         by_name['kill-cinder-copying'].service)
        self.assertIsNone(by_name['none-legacy'].service)


class ExportFileTestCase(base.TestCase):

    def test_network_disk_maps_to_the_exported_file(self):
        env = mock.Mock(path=lambda *parts: os.path.join(
            self.state_path, *parts))
        state = os.path.join(self.state_path, 'cinder', 'nbd', 'array4')
        os.makedirs(state)
        for name, port in (('volume-a', 10809), ('volume-b', 10810)):
            with open(os.path.join(state, name + '.json'), 'w') as f:
                json.dump({'name': name, 'port': port, 'host': '127.0.0.1',
                           'path': '/pools/%s' % name, 'pid': 1}, f)
        self.assertEqual('/pools/volume-b', checks._export_file(
            env, 'nbd://127.0.0.1:10810/volume-b'))
        self.assertEqual('/pools/volume-a', checks._export_file(
            env, 'json:' + json.dumps({'driver': 'raw', 'file': {
                'driver': 'nbd', 'export': 'volume-a', 'server': {
                    'type': 'inet', 'host': '127.0.0.1',
                    'port': '10809'}}})))
        self.assertRaises(exception.BenchError, checks._export_file, env,
                          'nbd://127.0.0.1:10811/volume-b')


class TriggerTestCase(base.TestCase):

    def _env(self, values):
        env = injector.FaultDeployment.__new__(injector.FaultDeployment)
        env.nova_step = mock.Mock(side_effect=[(None, v) for v in values])
        env.cloud = mock.Mock()
        env.cloud.volume.return_value = {'migration_status': 'migrating'}
        return env

    def test_fires_on_the_step_and_records_what_it_saw(self):
        env = self._env([None, 'start:snapshot', 'started'])
        with mock.patch.object(injector.time, 'sleep'):
            fired, seen = env.wait_trigger(
                injector.Trigger('nova-step', ('started',)), lambda: 'att',
                'vol', 10)
        self.assertEqual('started', fired)
        self.assertEqual(['start:snapshot', 'started'], seen)
        # Whether the migration ended is an API call: not at every poll.
        self.assertEqual(1, env.cloud.volume.call_count)

    def test_none_when_the_migration_ended_first(self):
        env = self._env(['completed'] * 3)
        env.cloud.volume.return_value = {'migration_status': 'success'}
        fired, seen = env.wait_trigger(
            injector.Trigger('nova-step', ('complete:commit',)),
            lambda: 'att', 'vol', 10)
        self.assertIsNone(fired)
        self.assertEqual(['completed'], seen)

    def test_describe(self):
        self.assertEqual('cinder-status migrating +0.5s', injector.Trigger(
            'cinder-status', ('migrating',), 0.5).describe())


class PassedTestCase(base.TestCase):

    def test_clean_row_passes(self):
        self.assertTrue(checks.passed(_row()))

    def test_a_lost_write_anywhere_fails(self):
        for key in ('src_at_start', 'after_migration', 'final'):
            self.assertFalse(checks.passed(_row(**{key: dict(
                OK, verdict='LOST', stale=1)})), key)

    def test_src_changed_fails_only_when_the_guest_left_it(self):
        changed = dict(OK, unchanged=False)
        self.assertFalse(checks.passed(_row(src_at_start=changed)))
        self.assertTrue(checks.passed(_row(
            src_at_start=changed, after_migration=dict(OK, on='src'))))

    def test_guest_left_on_an_overlay_fails(self):
        self.assertFalse(checks.passed(_row(after_migration={
            'error': 'the guest still runs on qcow2 /x', 'on': 'dst'})))

    def test_stuck_error_or_leak_fails(self):
        self.assertFalse(checks.passed(_row(outcome='stuck: x')))
        self.assertFalse(checks.passed(_row(error='boom')))
        self.assertFalse(checks.passed(_row(leaks={
            'overlays': ['a.qcow2'], 'orphan_volume_files': []})))

    def test_legacy_has_no_start_check(self):
        self.assertTrue(checks.passed(_row(src_at_start=None)))


class TableTestCase(base.TestCase):

    def test_row_and_rst(self):
        cells = run.table_row(_row())
        self.assertEqual(len(run.COLUMNS), len(cells))
        self.assertEqual('pass', cells[-1])
        text = run.render_rst({'started_at': 'T', 'rows': [_row()]})
        self.assertIn('   * - kill-compute-after-start', text)
        self.assertIn('     - started', text)
        self.assertNotIn('Left on the host', text)

    def test_what_the_run_left_on_the_host(self):
        none = {'domains': [], 'processes': [], 'loop_devices': []}
        self.assertEqual('nothing', run.describe_leaks(none))
        self.assertEqual('not checked', run.describe_leaks(None))
        left = dict(none, loop_devices=['/dev/loop3'])
        self.assertEqual('loop_devices: /dev/loop3',
                         run.describe_leaks(left))
        text = run.render_rst({'started_at': 'T', 'rows': [_row()],
                               'leaks_at_end': none})
        self.assertIn('(domains, processes, loop devices): nothing.', text)


class FillPoolTestCase(base.TestCase):

    def test_leaves_the_room_asked(self):
        env = injector.FaultDeployment.__new__(injector.FaultDeployment)
        directory = self.state_file('pool')
        os.makedirs(directory)
        with mock.patch.object(injector.os, 'statvfs') as statvfs, \
                mock.patch.object(injector.os, 'posix_fallocate') as falloc:
            statvfs.return_value = mock.Mock(f_bavail=100, f_frsize=4096)
            filler = env.fill_pool(directory, 4096 * 10)
        falloc.assert_called_once_with(mock.ANY, 0, 4096 * 90)
        self.assertTrue(os.path.exists(filler))


class CliTestCase(base.TestCase):

    def test_scenario_faults_runs_the_selected_cases(self):
        result = {'rows': [_row()], 'elapsed_s': 1.0, 'started_at': 'T',
                  'files': {'json': 'r.json'}}
        with mock.patch.object(run, 'run', return_value=result) as go:
            cli.main(['--state-path', self.state_path, 'run', '--scenario',
                      'faults', '--faults', 'kill-compute-after',
                      '--repeat', '3'])
        selected = go.call_args[0][0]
        self.assertEqual(['kill-compute-after-start',
                          'kill-compute-after-switch'],
                         [c.name for c in selected])
        self.assertEqual(3, go.call_args[1]['repeat'])

    def test_a_failed_case_fails_the_command(self):
        result = {'rows': [_row(error='x')], 'elapsed_s': 1.0,
                  'started_at': 'T', 'files': {'json': 'r.json'}}
        with mock.patch.object(run, 'run', return_value=result):
            self.assertEqual(1, cli.main([
                '--state-path', self.state_path, 'run', '--scenario',
                'faults', '--faults', 'none']))
