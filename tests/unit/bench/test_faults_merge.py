"""Several fault runs in one table: every cell computed from the rows."""

import contextlib
import io
import json
import os
from unittest import mock

from tests import base
from tests.unit.bench import samples
from volmig_bench import cli
from volmig_bench import exception
from volmig_bench.faults import checks
from volmig_bench.faults import merge
from volmig_bench import report

OK = {'verdict': 'ok', 'ok': 10, 'newer': 1, 'stale': 0, 'missing': 0,
      'corrupt': 0, 'acknowledged': 5}
NO_LEAKS = {'overlays': [], 'orphan_volume_files': []}


def _row(case='kill-compute-after-start', **kw) -> dict:
    row = {'case': case, 'iteration': 0, 'outcome': 'success/completed',
           'fired_at': 'started', 'src_at_start': dict(OK, unchanged=True),
           'after_migration': dict(OK, on='dst', format='raw',
                                   chained=False),
           'final': dict(OK, checked='raw'), 'leaks': dict(NO_LEAKS)}
    row.update(kw)
    row['passed'] = checks.passed(row)
    return row


def _result(started_at: str, *rows) -> dict:
    return {'scenario': 'faults', 'started_at': started_at,
            'rows': list(rows)}


def _cells(*results) -> dict:
    entries = merge.merge(list(results))
    return {e['case']: dict(zip(merge.COLUMNS, merge.case_cells(e)))
            for e in entries}


#: What the first harness wrote of a guest left on its start overlay:
#: ``on`` said dst, no verdict after the migration, and the final check
#: read the qcow2 file as if it were raw (``checked`` absent).
FIRST_HARNESS_STUCK = {
    'outcome': 'stuck: Deployment: migration of v settling: not done',
    'after_migration': {'on': 'dst', 'format': 'qcow2', 'chained': True,
                        'error': 'the guest still runs on qcow2 /o'},
    'final': dict(OK, verdict='LOST', corrupt=30, missing=7,
                  acknowledged=900),
    'leaks': {'overlays': ['srv1_att_start.qcow2'],
              'orphan_volume_files': []}}


class MergeTestCase(base.TestCase):

    def test_clean_rows_of_two_runs(self):
        cells = _cells(_result('B', _row(), _row(final=dict(
                           OK, checked='raw', acknowledged=9))),
                       _result('A', _row(final=dict(OK, checked='raw',
                                                    acknowledged=3))))
        got = cells['kill-compute-after-start']
        self.assertEqual('3', got['runs'])
        self.assertEqual('3', got['passed'])
        self.assertEqual('success/completed (dst) x3',
                         got['outcomes (guest on)'])
        self.assertEqual('3-9', got['acked writes'])
        self.assertEqual('0 / 0 / 0', got['stale / missing / corrupt'])
        self.assertEqual('ok', got['src frozen'])
        self.assertEqual('-', got['failed in'])
        self.assertEqual('-', got['stored verdict differs'])
        # In the order the runs started, whatever the order given.
        self.assertEqual('A, B x2', got['from'])

    def test_cases_in_order_of_first_appearance(self):
        entries = merge.merge([_result('A', _row('b'), _row('a')),
                               _result('B', _row('c'), _row('a'))])
        self.assertEqual(['b', 'a', 'c'], [e['case'] for e in entries])

    def test_a_leak_is_counted_on_the_row_that_first_reports_it(self):
        # The first harness listed every overlay left in the directory on
        # every later row of the run: those rows pass by today's rule,
        # and say their stored verdict differs.
        left = {'overlays': ['srv1_att_start.qcow2'],
                'orphan_volume_files': []}
        both = {'overlays': ['srv1_att_start.qcow2', 'srv2_att_start.qcow2'],
                'orphan_volume_files': []}
        rows = [_row('leaker', leaks=left), _row('next', leaks=left),
                _row('leaker', leaks=both)]
        self.assertEqual([left, NO_LEAKS, {
            'overlays': ['srv2_att_start.qcow2'],
            'orphan_volume_files': []}], merge.own_leaks(rows))
        cells = _cells(_result('A', *rows),
                       _result('B', _row('next', leaks=left)))
        self.assertEqual('2', cells['leaker']['leaks'])
        self.assertEqual('0', cells['leaker']['passed'])
        self.assertEqual('A x2', cells['leaker']['failed in'])
        self.assertEqual('-', cells['leaker']['stored verdict differs'])
        # Another run's rows start afresh: B's own first report counts.
        self.assertEqual('1', cells['next']['leaks'])
        self.assertEqual('1', cells['next']['passed'])
        self.assertEqual('B', cells['next']['failed in'])
        self.assertEqual('A', cells['next']['stored verdict differs'])

    def test_an_overlay_read_as_raw_is_not_verified(self):
        row = _row(**FIRST_HARNESS_STUCK)
        self.assertEqual('overlay', merge.guest_on(row))
        self.assertEqual(['after: qcow2 not flattened',
                          'final: qcow2 read as raw'],
                         merge.not_verified(row))
        got = _cells(_result('A', row, _row()))['kill-compute-after-start']
        self.assertEqual('stuck (overlay), success/completed (dst)',
                         got['outcomes (guest on)'])
        # The raw read's counts are not summed, its acks not ranged.
        self.assertEqual('0 / 0 / 0', got['stale / missing / corrupt'])
        self.assertEqual('5', got['acked writes'])
        self.assertEqual('after: qcow2 not flattened, '
                         'final: qcow2 read as raw', got['not verified'])
        self.assertEqual('1', got['passed'])
        self.assertEqual('1', got['leaks'])

    def test_a_check_not_made_is_named(self):
        row = _row(after_migration=None,
                   src_at_start={'error': 'start never seen'})
        self.assertEqual(['src at start: start never seen',
                          'after: not made'], merge.not_verified(row))
        got = _cells(_result('A', row))['kill-compute-after-start']
        self.assertEqual('0', got['passed'])
        self.assertEqual('0 / 0 / 0', got['stale / missing / corrupt'])

    def test_a_flattened_overlay_is_verified(self):
        # Today's harness: the chain flattened, ``checked`` says qcow2.
        row = _row(outcome='stuck: x', after_migration=dict(
            OK, on='overlay', format='qcow2', chained=True,
            error='the guest still runs on qcow2 /o'),
            final=dict(OK, checked='qcow2', acknowledged=7))
        got = _cells(_result('A', row))['kill-compute-after-start']
        self.assertEqual('-', got['not verified'])
        self.assertEqual('7', got['acked writes'])
        self.assertEqual('0', got['passed'])

    def test_losses_are_summed_over_every_verified_check(self):
        row = _row(src_at_start=dict(OK, unchanged=True, stale=1,
                                     verdict='LOST'),
                   final=dict(OK, checked='raw', missing=2, corrupt=3,
                              verdict='LOST'))
        got = _cells(_result('A', row, row))['kill-compute-after-start']
        self.assertEqual('2 / 4 / 6', got['stale / missing / corrupt'])
        self.assertEqual('0', got['passed'])
        self.assertEqual('LOST', got['src frozen'])

    def test_a_case_error_is_shown_not_dropped(self):
        broken = {'case': 'kill-compute-cancel-commit', 'iteration': 0,
                  'error': 'WriterLogError: the guest writer start',
                  'passed': False}
        got = _cells(_result('A', broken, _row(
            'kill-compute-cancel-commit', outcome='error/cancelled',
            src_at_start=dict(OK, unchanged=False),
            after_migration=dict(OK, on='src', format='raw',
                                 chained=False))))[
            'kill-compute-cancel-commit']
        self.assertEqual('2', got['runs'])
        self.assertEqual('1', got['passed'])
        self.assertEqual('case error (-), error/cancelled (src)',
                         got['outcomes (guest on)'])
        self.assertEqual('case error, no checks', got['not verified'])
        self.assertEqual('-, ok (written back)', got['src frozen'])
        self.assertEqual('A', got['failed in'])

    def test_src_frozen_verdicts(self):
        def frozen(**kw):
            return _cells(_result('A', _row(**kw)))[
                'kill-compute-after-start']['src frozen']

        self.assertEqual('n/a', frozen(src_at_start=None))
        self.assertEqual('ERROR: start never seen',
                         frozen(src_at_start={'error': 'start never seen'}))
        self.assertEqual('CHANGED', frozen(src_at_start=dict(
            OK, unchanged=False)))


class RenderTestCase(base.TestCase):

    def _files(self, *results) -> list[str]:
        paths = []
        for n, result in enumerate(results):
            path = self.state_file('r%d.json' % n)
            with open(path, 'w') as f:
                json.dump(result, f)
            paths.append(path)
        return paths

    def test_rst(self):
        text = merge.render_rst([_result('A', _row(), _row('none-legacy')),
                                 _result('B', _row())])
        lines = text.splitlines()
        self.assertEqual('.. list-table:: Fault scenario, 2 runs merged '
                         '(3 rows)', lines[0])
        self.assertEqual(3, sum(1 for line in lines
                                if line.startswith('   * - ')))
        self.assertEqual(3 * len(merge.COLUMNS), sum(
            1 for line in lines if line.lstrip().startswith(('* -', '- '))))
        # "-" cells are escaped, never nested lists.
        self.assertFalse([line for line in lines
                          if line.startswith('     - -')])
        self.assertIn('     - \\-', lines)

    def test_report_renders_one_file_alone_and_several_merged(self):
        paths = self._files(_result('A', _row()), _result('B', _row()))
        self.assertEqual(report.render_rst_file(paths[0]),
                         report.render_rst_files(paths[:1]))
        self.assertEqual(merge.render_rst(merge.load(paths)),
                         report.render_rst_files(paths))
        self.assertEqual(report.render_rst_files(paths),
                         report.render_rst_files(paths[::-1]))

    def test_the_cli_prints_the_merged_table(self):
        paths = self._files(_result('A', _row()), _result('B', _row()))
        out = io.StringIO()
        with contextlib.redirect_stdout(out), mock.patch.dict(
                os.environ, {'COLUMNS': '250'}):
            self.assertEqual(0, cli.main(['report'] + paths))
        self.assertIn('2 runs merged', out.getvalue())
        self.assertIn('success/completed (dst) x2', out.getvalue())

    def test_only_fault_files_merge(self):
        other = self.state_file('flows.json')
        with open(other, 'w') as f:
            json.dump(samples.result(), f)
        paths = self._files(_result('A', _row())) + [other]
        self.assertRaises(exception.InvalidParameter,
                          report.render_rst_files, paths)
        self.assertTrue(os.path.exists(other))
