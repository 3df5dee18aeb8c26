"""Result schema, table, JSON and plot."""

import json
import os

from rich.console import Console

from tests import base
from volmig_bench import exception
from volmig_bench import report

G = 1 << 30


def _result():
    result = report.new_result({'writer': {'rate': 20000000}})
    summary = {'count': 10, 'p50_ms': 0.4, 'p99_ms': 12.0, 'max_ms': 20.0}
    result['rows'].append(report.new_row(
        'new', 'nbd', 'netns-veth', 'xfs-reflink', G, total_s=2.5,
        cinder_complete_wait_s=0.3,
        write_block_s={'start': 0.012, 'pivots': [0.03]},
        bytes_through_compute=52000000,
        guest_latency={'before': summary, 'during': summary},
        raw_copy_s=0.05, copy_phase_s=0.5, checksum_ok=True))
    result['rows'].append(report.new_row(
        'legacy', 'nbd', 'netns-veth', 'xfs-reflink', G, total_s=300.0,
        legacy_converged=False, bytes_through_compute=7 * 10 ** 9,
        checksum_ok=True))
    result['timeseries'] = {'1gib-nbd-xfs-reflink-new-0': {
        't_s': [0, 1], 'p50_ms': [1, 2], 'p99_ms': [3, 40],
        'max_ms': [4, 50], 'events': [{'t_s': 1, 'name': 'start'}]}}
    return result


class ReportTestCase(base.TestCase):

    def test_rows_validate_and_ratio_is_derived(self):
        result = _result()
        report.validate(result)
        self.assertEqual(10.0, result['rows'][0]['copy_ratio'])
        self.assertEqual('1gib-nbd-xfs-reflink-new-0',
                         result['rows'][0]['id'])

    def test_invalid_rows_are_refused(self):
        result = _result()
        result['rows'][0]['flow'] = 'teleport'
        self.assertRaises(exception.InvalidParameter, report.validate,
                          result)
        result = _result()
        del result['rows'][1]['checksum_ok']
        self.assertRaises(exception.InvalidParameter, report.validate,
                          result)

    def test_integrity_fails_loudly(self):
        result = _result()
        report.assert_integrity(result)
        result['rows'][1]['checksum_ok'] = False
        exc = self.assertRaises(exception.ChecksumMismatch,
                                report.assert_integrity, result)
        self.assertIn('legacy', str(exc))

    def test_table(self):
        console = Console(width=250, record=True)
        console.print(report.render_table(_result()))
        text = console.export_text()
        self.assertIn('xfs-reflink', text)
        self.assertIn('NO', text)          # legacy did not converge
        self.assertIn('12 / 30', text)     # blocked at start / pivot, ms
        self.assertIn('0.4 / 12.0', text)  # p50 / p99

    def test_files(self):
        out = self.state_file('bench-results')
        paths = report.write_all(_result(), out, stem='run')
        with open(paths['json']) as f:
            self.assertEqual(report.SCHEMA_ID, json.load(f)['schema'])
        self.assertEqual(_result()['rows'][0]['id'],
                         report.load_json(paths['json'])['rows'][0]['id'])
        with open(paths['png'], 'rb') as f:
            self.assertEqual(b'\x89PNG', f.read(4))
        self.assertGreater(os.path.getsize(paths['png']), 10000)

    def test_live_report(self):
        console = Console(width=250, record=True, force_terminal=False)
        result = report.new_result({})
        with report.LiveReport(result, total_steps=2,
                               console=console) as live:
            live.step('copying')
            live.add_row(_result()['rows'][0])
        self.assertEqual(1, len(result['rows']))
        self.assertIn('copying', console.export_text())

    def test_format_size(self):
        self.assertEqual('1 GiB', report.format_size(G))
        self.assertEqual('1.5 GiB', report.format_size(G + G // 2))
        self.assertEqual('64 MiB', report.format_size(64 << 20))
        self.assertEqual('-', report.format_size(None))


class RstTestCase(base.TestCase):

    def test_list_table(self):
        text = report.render_rst(_result(), title='run')
        lines = text.splitlines()
        self.assertEqual('.. list-table:: run', lines[0])
        # header + 2 rows, one "* -" line each, every column once.
        self.assertEqual(3, sum(1 for line in lines
                                if line.startswith('   * - ')))
        self.assertEqual(3 * len(report.COLUMNS), sum(
            1 for line in lines if line.lstrip().startswith(('* -', '- '))))
        # Cells starting with "-" are escaped, never nested lists.
        self.assertFalse([line for line in lines if line.startswith(
            '     - -')])
        self.assertIn('     - \\-', lines)
