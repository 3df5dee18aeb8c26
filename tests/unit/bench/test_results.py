"""The result document: schema, integrity, sizes."""

from tests import base
from tests.unit.bench import samples
from volmig_bench import exception
from volmig_bench import results

G = 1 << 30
_result = samples.result


class ResultsTestCase(base.TestCase):

    def test_rows_validate_and_ratio_is_derived(self):
        result = _result()
        results.validate(result)
        self.assertEqual(10.0, result['rows'][0]['copy_ratio'])
        self.assertEqual('1gib-nbd-xfs-reflink-new-0',
                         result['rows'][0]['id'])

    def test_invalid_rows_are_refused(self):
        result = _result()
        result['rows'][0]['flow'] = 'teleport'
        self.assertRaises(exception.InvalidParameter, results.validate,
                          result)
        result = _result()
        del result['rows'][1]['checksum_ok']
        self.assertRaises(exception.InvalidParameter, results.validate,
                          result)

    def test_integrity_fails_loudly(self):
        result = _result()
        results.assert_integrity(result)
        result['rows'][1]['checksum_ok'] = False
        exc = self.assertRaises(exception.ChecksumMismatch,
                                results.assert_integrity, result)
        self.assertIn('legacy', str(exc))

    def test_format_size(self):
        self.assertEqual('1 GiB', results.format_size(G))
        self.assertEqual('1.5 GiB', results.format_size(G + G // 2))
        self.assertEqual('64 MiB', results.format_size(64 << 20))
        self.assertEqual('-', results.format_size(None))
