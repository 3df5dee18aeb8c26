"""The result for readers: table, reST table, JSON and plot files."""

import json
import os

from rich.console import Console

from tests import base
from tests.unit.bench import samples
from volmig_bench import report
from volmig_bench import results

_result = samples.result


class ReportTestCase(base.TestCase):

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
            self.assertEqual(results.SCHEMA_ID, json.load(f)['schema'])
        self.assertEqual(_result()['rows'][0]['id'],
                         results.load_json(paths['json'])['rows'][0]['id'])
        with open(paths['png'], 'rb') as f:
            self.assertEqual(b'\x89PNG', f.read(4))
        self.assertGreater(os.path.getsize(paths['png']), 10000)


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
