"""``--scenario scale``: statistics, result document, report, volume model."""

import io
import os
from unittest import mock

import fixtures
import jsonschema
from rich.console import Console

from tests import base
from volmig_bench import exception
from volmig_bench import scale
from volmig_bench import scale_parts
from volmig_bench import scale_report

MiB = 1024 * 1024
DOC = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc',
                   'source')


def _migration(i, start=0.2, complete=0.4, copy=(1.0, 2.0),
               status='success', verified=True):
    return {'index': i, 'volume_id': 'v%d' % i, 'status': status,
            'verified': verified, 'start_s': start, 'complete_s': complete,
            'copy_s': None if copy[0] is None else copy[1] - copy[0],
            'total_s': 3.0,
            't_request': 0.0, 't_copy_started': copy[0],
            't_copy_finished': copy[1], 't_done': 3.0, 'error': None}


def _result(concurrent=None, sequential=None, raw_bps=100 * MiB):
    concurrent = concurrent or [_migration(i, copy=(1.0, 1.0 + 0.32))
                                for i in range(4)]
    sequential = sequential or [_migration(i, copy=(i, i + 0.5))
                                for i in range(4)]
    result = {
        'schema': scale_report.SCHEMA_NAME,
        'started_at': '2026-12-06T04:00:00Z', 'elapsed_s': 60.0,
        'host': {'cpus': 2},
        'params': {'count': 4, 'size': 64 * MiB, 'queue_cap': None},
        'notes': ['no queue cap'],
        'load': {run: {'loadavg_1m': {'min': 2.0, 'mean': 3.0, 'max': 4.5},
                       'cpu_busy': 0.9, 'seconds': 5.0}
                 for run in scale_report.RUNS},
        'raw': {'volumes': 4, 'seconds': 1.0, 'bytes': 4 * 64 * MiB,
                'bytes_per_s': raw_bps, 'method': 'copy_file_range'},
        'runs': {'concurrent': {'total_s': 4.0, 'migrations': concurrent},
                 'sequential': {'total_s': 12.0,
                                'migrations': sequential}},
        'summary': {}, 'checks': []}
    scale_report.summarize(result)
    return result


class StatisticsTestCase(base.TestCase):

    def test_percentile_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual(50, scale_report.percentile(values, 50))
        self.assertEqual(99, scale_report.percentile(values, 99))
        self.assertEqual(1, scale_report.percentile([1], 99))
        self.assertIsNone(scale_report.percentile([], 50))

    def test_p99_of_32_is_the_largest(self):
        values = [0.1] * 31 + [2.5]
        self.assertEqual(2.5, scale_report.percentile(values, 99))
        self.assertEqual(0.1, scale_report.percentile(values, 50))

    def test_latency_skips_unmeasured(self):
        self.assertEqual({'n': 2, 'p50_s': 0.1, 'p99_s': 0.3,
                          'max_s': 0.3},
                         scale_report.latency([0.3, None, 0.1]))
        self.assertEqual({'n': 0, 'p50_s': None, 'p99_s': None,
                          'max_s': None}, scale_report.latency([None]))

    def test_union_seconds(self):
        u = scale_report.union_seconds
        self.assertEqual(0, u([]))
        self.assertEqual(3, u([(0, 1), (2, 4)]))              # disjoint
        self.assertEqual(4, u([(0, 3), (1, 4)]))              # overlapping
        self.assertEqual(5, u([(0, 5), (1, 2), (3, 4)]))      # nested
        self.assertEqual(2, u([(2, 3), (0, 1), (5, 4)]))      # unsorted, bad

    def test_run_summary(self):
        migrations = [_migration(0, start=0.1, copy=(0, 1)),
                      _migration(1, start=0.9, copy=(0.5, 2)),
                      _migration(2, start=None, copy=(None, None),
                                 status='error', verified=False)]
        s = scale_report.summarize_run(migrations, 5.0, 64 * MiB)
        self.assertEqual((3, 2, 2), (s['count'], s['succeeded'],
                                     s['verified']))
        self.assertEqual(2, s['start']['n'])
        self.assertEqual(0.9, s['start']['p99_s'])
        # two copies of 64 MiB over the 2 s their windows cover
        self.assertEqual(2.0, s['copy_busy_s'])
        self.assertEqual(64 * MiB, s['copy_bytes_per_s'])

    def test_speedup_ratio_and_checks(self):
        result = _result()
        s = result['summary']
        # one by one: 4 migrations of 3 s each (wall 12 s) against 4 s
        self.assertEqual(12.0, s['sequential']['migrations_sum_s'])
        self.assertEqual(3.0, s['speedup'])
        # 4 x 64 MiB in 0.32 s = 800 MiB/s against a raw 100 MiB/s
        self.assertEqual(0.125, s['throughput_ratio'])
        self.assertTrue(all(c['ok'] for c in result['checks']),
                        result['checks'])

    def test_failures_are_checked(self):
        result = _result(concurrent=[
            _migration(0), _migration(1, status='error', verified=False),
            _migration(2, complete=1.5), _migration(3, verified=False)],
            raw_bps=10 ** 12)
        failed = {c['name']: c.get('fatal', True)
                  for c in result['checks'] if not c['ok']}
        self.assertEqual({'all 4 migrations succeeded': True,
                          'all verified by checksum': True,
                          'complete p99 under 1 s': False,
                          'copy throughput within 1.2x of the raw limit':
                              False}, failed)


class ReportTestCase(base.TestCase):

    def test_table_and_rst(self):
        result = _result()
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(scale_report.render_table(result))
        text = console.export_text()
        self.assertIn('0.200 / 0.200', text)
        self.assertIn('2.0-4.5, cpu 90%', text)   # the host's load
        rst = scale_report.render_rst(result)
        self.assertIn('.. list-table::', rst)
        self.assertIn('   * - concurrent', rst)
        self.assertIn('| [ok] all 4 migrations succeeded', rst)
        self.assertIn('one by one: 12.000 s of migrations (12.000 s wall',
                      rst)

    def test_files_round_trip(self):
        out = self.state_file('scale')
        files = scale_report.write_run(_result(), out)
        loaded = scale_report.load_json(files['json'])
        self.assertEqual(files, loaded['files'])
        self.assertTrue(scale_report.is_scale(loaded))
        with open(files['png'], 'rb') as f:
            self.assertEqual(b'\x89PNG', f.read(4))

    def test_schema_refuses_a_migration_without_times(self):
        result = _result()
        del result['runs']['concurrent']['migrations'][0]['start_s']
        self.assertRaises(jsonschema.ValidationError, scale_report.validate,
                          result)


class VolumeModelTestCase(base.TestCase):

    def test_file_matches_model_with_writes(self):
        model = scale_parts.VolumeModel(seed=7, size=16 * MiB, fraction=0.5)
        self.assertEqual(8, len(model.extents()))
        path = self.state_file('vol')
        model.fill(path)
        self.assertEqual(16 * MiB, os.path.getsize(path))
        self.assertEqual(model.sha256(), scale_parts.file_sha256(path))
        with open(path, 'r+b') as f:
            for _ in range(5):
                offset, length, pattern = write = model.next_write()
                f.seek(offset)
                f.write(bytes([pattern]) * length)
                model.acknowledge(write)
        self.assertEqual(model.sha256(), scale_parts.file_sha256(path))
        # a lost write shows
        model.acknowledge(model.next_write())
        self.assertNotEqual(model.sha256(), scale_parts.file_sha256(path))

    def test_writes_differ_between_volumes(self):
        a = scale_parts.VolumeModel(seed=1, size=16 * MiB, fraction=0.5)
        b = scale_parts.VolumeModel(seed=2, size=16 * MiB, fraction=0.5)
        self.assertNotEqual(a.next_write(), b.next_write())
        self.assertNotEqual(a.extents()[0][1][:64], b.extents()[0][1][:64])


class ScaleRunTestCase(base.TestCase):

    def test_limits(self):
        for count, size in ((0, 64 * MiB), (65, 64 * MiB), (4, 8 * MiB)):
            self.assertRaises(exception.InvalidParameter, scale.ScaleRun,
                              count, size, self.state_path,
                              self.state_file('out'))

    def test_queue_cap_without_the_option_is_said(self):
        self.useFixture(fixtures.MockPatch(
            'volmig_bench.scale.queue_option', return_value=None))
        self.useFixture(fixtures.MockPatch(
            'volmig_bench.host.host_facts', return_value={}))
        run = scale.ScaleRun(4, 64 * MiB, self.state_path,
                             self.state_file('out'), queue_cap=2)
        self.assertIsNone(run.result['params']['queue_cap'])
        self.assertIn('--queue-cap 2 was ignored', run.result['notes'][0])

    def test_queue_cap_is_set_when_cinder_has_it(self):
        self.useFixture(fixtures.MockPatch(
            'volmig_bench.scale.queue_option',
            return_value='max_concurrent_migrations'))
        self.useFixture(fixtures.MockPatch(
            'volmig_bench.host.host_facts', return_value={}))
        run = scale.ScaleRun(4, 64 * MiB, self.state_path,
                             self.state_file('out'), queue_cap=2)
        self.assertEqual(2, run.result['params']['queue_cap'])
        self.assertEqual([], run.result['notes'])

    def test_queue_option_is_a_cinder_option_or_none(self):
        from cinder_driver_side import conf as cinder_conf

        name = scale.queue_option()
        names = {o.name for _, opts in cinder_conf.list_opts()
                 for o in opts}
        self.assertTrue(name is None or name in names)


class NovaPhasesTestCase(base.TestCase):
    """Where Nova spent start and complete, summarised per phase."""

    def test_phases_summarised_when_measured(self):
        migrations = [_migration(i) for i in range(3)]
        for i, m in enumerate(migrations):
            m['nova'] = {'start': {'api_s': 0.01 * (i + 1),
                                   'dispatch_s': 0.02, 'compute_s': 0.1,
                                   'reply_s': 0.03}}
        summary = scale_report.summarize_run(migrations, 4.0, 64 * MiB)
        start = summary['nova_phases']['start']
        self.assertEqual({'n': 3, 'p50_s': 0.02, 'p99_s': 0.03,
                          'max_s': 0.03}, start['api_s'])
        self.assertEqual(0.1, start['compute_s']['p99_s'])
        self.assertNotIn('complete', summary['nova_phases'])

    def test_no_phases_no_key(self):
        # Results written before the breakdown keep their summary as is.
        summary = scale_report.summarize_run([_migration(0)], 4.0,
                                             64 * MiB)
        self.assertNotIn('nova_phases', summary)


class PollingTestCase(base.TestCase):
    """The bench asks for every volume in one call per poll."""

    def test_all_finished_is_one_list_call(self):
        self.useFixture(fixtures.MockPatch(
            'volmig_bench.host.host_facts', return_value={}))
        run = scale.ScaleRun(3, 64 * MiB, self.state_path,
                             self.state_file('out'))
        run.volumes = [{'id': 'v%d' % i} for i in range(3)]
        cloud = run.cloud = mock.Mock()
        cloud.cinder.get.return_value = {'volumes': [
            {'id': 'v0', 'migration_status': 'success'},
            {'id': 'v1', 'migration_status': 'migrating'},
            {'id': 'v2', 'migration_status': 'error'},
            {'id': 'other', 'migration_status': 'success'}]}
        ended = run._all_finished({0, 1})
        self.assertEqual({0}, set(ended))
        cloud.cinder.get.assert_called_once_with('/volumes/detail')
        cloud.volume.assert_not_called()


class NovaPhasesFromActionsTestCase(base.TestCase):
    """scale_parts.nova_phases splits Cinder's wait at Nova's records."""

    def test_phases_from_action_and_event_times(self):
        t = '2026-12-06T18:00:%06.3fZ'
        responses = {
            '/servers/s1/os-instance-actions': {'instanceActions': [
                {'action': 'volume_migration_start', 'request_id': 'r1',
                 'start_time': t % 1.1},
                {'action': 'volume_migration_complete', 'request_id': 'r2',
                 'start_time': t % 9.0}]},
            '/servers/s1/os-instance-actions/r1': {'instanceAction': {
                'events': [{'event': 'compute_volume_migration_start',
                            'start_time': t % 1.3,
                            'finish_time': t % 1.8}]}}}
        nova = mock.Mock()
        nova.get.side_effect = responses.__getitem__
        base_time = scale.deploy.parse_time(t % 0.0)
        phases = {'nova_start_called': base_time + 1.0,
                  'nova_start_returned': base_time + 1.9}
        out = scale_parts.nova_phases(nova, 's1', phases)
        self.assertEqual({'start'}, set(out))
        got = out['start']
        for key, want in (('api_s', 0.1), ('dispatch_s', 0.2),
                          ('compute_s', 0.5), ('reply_s', 0.1)):
            self.assertAlmostEqual(want, got[key], places=3)
