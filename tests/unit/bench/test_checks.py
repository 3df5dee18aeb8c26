"""The run's verdicts and the summary they read: arithmetic only."""

from tests import base
from volmig_bench import checks
from volmig_bench import exception
from volmig_bench import measure
from volmig_bench import plan
from volmig_bench import report
from volmig_bench import results

G = plan.GiB


def _row(flow, total, wait=None, status='success', checksum=True,
         link='nbd', bytes_=None):
    row = results.new_row(flow, link, 'netns-veth', 'cfr', G, total_s=total,
                          cinder_complete_wait_s=wait,
                          bytes_through_compute=bytes_, checksum_ok=checksum,
                          status=status)
    row['rate'] = 20 * 10 ** 6
    return row


class VerdictTestCase(base.TestCase):

    def _result(self, rows, runs=None):
        result = results.new_result({})
        result['rows'] = rows
        result['runs'] = runs if runs is not None else [
            {'case': 'c', 'checksum_ok': True, 'expected_sha256': 'a',
             'actual_sha256': 'a'}]
        result['summary'] = measure.summarize(rows)
        result['checks'] = checks.run_checks(result)
        results.validate(result)
        return result

    def test_summary_ratios_and_checks(self):
        result = self._result([
            _row('new', 2.0, 0.4, bytes_=100),
            _row('legacy', 10.0, bytes_=2000),
            _row('new-write_blocking', 2.5, 1.4, bytes_=120)])
        new = [s for s in result['summary'] if s['flow'] == 'new'][0]
        self.assertEqual(5.0, new['time_ratio'])
        self.assertEqual(20.0, new['bytes_ratio'])
        named = {c['name'].split(' (')[0] if 'complete' not in c['name']
                 else c['name'][:60]: c['ok'] for c in result['checks']}
        self.assertTrue(all(ok for name, ok in named.items()
                            if 'write_blocking' not in name), named)
        wb = [c for c in result['checks'] if 'new-write_blocking' in
              c['name']][0]
        self.assertFalse(wb['ok'])
        self.assertFalse(wb['fatal'])
        checks.verdict(result)   # only fatal checks raise
        lines = report.render_summary(result)
        self.assertIn('5.0x faster than legacy', '\n'.join(lines))
        self.assertIn('[short]', '\n'.join(lines))

    def test_rebase_wait_limit_and_bytes_over_guest_chunks(self):
        rows = [_row('new', 2.0, 0.4, bytes_=300),
                _row('new-rebase', 2.0, 0.25, bytes_=110),
                _row('legacy', 10.0, bytes_=2000),
                _row('new-rebase', 2.0, 0.9, bytes_=5, link='file')]
        for row in rows:
            row['guest_chunk_bytes_during'] = 100
            row['guest_bytes_during'] = 100
            row['bytes_source'] = ('link counters' if row['link'] == 'nbd'
                                   else 'qemu process io')
        found = {c['name']: c for c in self._result(rows)['checks']}
        wait = [c for n, c in found.items()
                if n.startswith('Cinder waits under 0.2 s in complete '
                                '(new-rebase, nbd only)')]
        self.assertEqual([False], [c['ok'] for c in wait])   # 0.25 s
        self.assertEqual('max 0.250 s', wait[0]['detail'])   # not file's
        ratio = {n.rsplit('(', 1)[1][:-1]: (n, c) for n, c in found.items()
                 if n.startswith('bytes via compute at most 1.2x')}
        self.assertEqual({'new', 'new-rebase'}, set(ratio))
        self.assertFalse(ratio['new'][1]['ok'])           # 3x: twice
        self.assertTrue(ratio['new-rebase'][1]['ok'])     # 1.1x, nbd only
        self.assertIn('max 1.10x', ratio['new-rebase'][1]['detail'])
        self.assertIn("the guest's 64 KiB chunks", ratio['new'][0])
        self.assertIn('the bytes the guest wrote', ratio['new-rebase'][0])

    def test_rebase_bytes_are_over_what_the_guest_wrote(self):
        """Its copy moves 4 KiB blocks: chunks would hide 64 KiB reads."""
        rows = [_row('new', 2.0, 0.4, bytes_=100),
                _row('new-rebase', 2.0, 0.1, bytes_=150),
                _row('legacy', 10.0, bytes_=2000)]
        for row in rows:
            row['guest_chunk_bytes_during'] = 200
            row['guest_bytes_during'] = 100
            row['bytes_source'] = 'link counters'
        found = {c['name'].rsplit('(', 1)[1][:-1]: c
                 for c in self._result(rows)['checks']
                 if c['name'].startswith('bytes via compute')}
        self.assertTrue(found['new']['ok'])               # 0.5x chunks
        self.assertFalse(found['new-rebase']['ok'])       # 1.5x bytes
        self.assertIn('max 1.50x', found['new-rebase']['detail'])

    def test_rebase_no_slower_than_two_step_row_by_row(self):
        """Paired by configuration; file rows (two_step there) not read."""
        rows = [_row('new', 2.0, 0.4), _row('new-rebase', 2.2, 0.1),
                _row('new', 6.0, 0.6), _row('new-rebase', 5.0, 0.1),
                _row('new', 2.0, 0.4, link='file'),
                _row('new-rebase', 9.0, 0.4, link='file'),
                _row('legacy', 10.0)]
        rows[2]['size'] = rows[3]['size'] = 4 * G
        for row, finish in zip(rows, (0.5, 0.3, 1.4, 0.9, 0.5, 0.5)):
            row['nova_finish_s'] = finish
        found = {c['name']: c for c in self._result(rows)['checks']
                 if 'no worse than' in c['name']}
        total = found['total time no worse than new '
                      '(new-rebase, nbd only)']
        self.assertFalse(total['ok'])                 # 2.2 s against 2.0
        self.assertEqual('max 1.10x of new, 1 GiB', total['detail'])
        self.assertFalse(total['fatal'])
        nova = found["Nova's part (wait in complete + async finish) no "
                     'worse than new (new-rebase, nbd only)']
        self.assertTrue(nova['ok'])
        self.assertEqual('max 0.50x of new, 4 GiB', nova['detail'])
        self.assertEqual(2, len(found))

    def test_no_pair_no_no_slower_check(self):
        found = [c for c in self._result(
            [_row('new-rebase', 2.0, 0.1), _row('legacy', 10.0),
             _row('new', 1.0, 0.3, status='error')])['checks']
            if 'no worse than' in c['name']]
        self.assertEqual([], found)

    def test_summary_says_slower_when_new_is_slower(self):
        result = self._result([_row('new', 2.5, 0.4, bytes_=100),
                               _row('legacy', 2.0, bytes_=2000)])
        text = '\n'.join(report.render_summary(result))
        self.assertIn('1.2x slower than legacy', text)
        self.assertNotIn('faster', text)

    def test_checksum_mismatch_fails_loudly(self):
        result = self._result([_row('new', 2.0, 0.4, checksum=False),
                               _row('legacy', 9.0)],
                              runs=[{'case': '1 GiB nbd:cfr',
                                     'checksum_ok': False,
                                     'expected_sha256': 'aa',
                                     'actual_sha256': 'bb'}])
        exc = self.assertRaises(exception.ChecksumMismatch, checks.verdict,
                                result)
        self.assertIn('DATA INTEGRITY FAILURE', str(exc))
        self.assertIn('expected aa, found bb', str(exc))

    def test_failed_new_flow_fails(self):
        result = self._result([_row('new', 2.0, status='error'),
                               _row('legacy', 9.0)])
        self.assertRaises(exception.BenchError, checks.verdict, result)

    def test_legacy_not_converging_is_a_finding_not_a_failure(self):
        legacy = _row('legacy', 130.0, status='error')
        legacy['legacy_converged'] = False
        result = self._result([_row('new', 3.0, 0.5), legacy])
        checks.verdict(result)
        new = [s for s in result['summary'] if s['flow'] == 'new'][0]
        self.assertTrue(new['legacy_did_not_finish'])
        self.assertIn('legacy did not finish',
                      '\n'.join(report.render_summary(result)))

    def test_case_that_did_not_finish_fails(self):
        result = self._result([], runs=[{'case': 'c', 'error': 'boom'}])
        exc = self.assertRaises(exception.BenchError, checks.verdict,
                                result)
        self.assertIn('boom', str(exc))
