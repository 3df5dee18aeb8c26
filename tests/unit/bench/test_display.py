"""The live table and progress shown while the bench runs."""

from rich.console import Console

from tests import base
from tests.unit.bench import samples
from volmig_bench import display
from volmig_bench import results


class LiveReportTestCase(base.TestCase):

    def test_live_report(self):
        console = Console(width=250, record=True, force_terminal=False)
        result = results.new_result({})
        with display.LiveReport(result, total_steps=2,
                                console=console) as live:
            live.step('copying')
            live.add_row(samples.result()['rows'][0])
        self.assertEqual(1, len(result['rows']))
        self.assertIn('copying', console.export_text())
