"""volmig_common.polling: the one poll helper (tenacity)."""

import time

from tests import base
from volmig_common import polling


class TestWaitFor(base.TestCase):

    def test_returns_the_first_truthy_value(self):
        answers = iter([None, 0, [], {'status': 'available'}])
        self.assertEqual({'status': 'available'}, polling.wait_for(
            lambda: next(answers), timeout=5, interval=0))

    def test_timeout_names_what_was_waited_for(self):
        calls = []
        started = time.monotonic()
        e = self.assertRaises(polling.WaitTimeout, polling.wait_for,
                              lambda: calls.append(1), timeout=0.2,
                              interval=0.05, what='volume v1 available')
        self.assertIsInstance(e, TimeoutError)
        self.assertEqual('timed out after 0.2s waiting for volume v1 '
                         'available', str(e))
        self.assertGreaterEqual(time.monotonic() - started, 0.2)
        self.assertGreater(len(calls), 2)

    def test_error_builds_the_callers_exception(self):
        e = self.assertRaises(AssertionError, polling.wait_for,
                              lambda: False, timeout=0, interval=0,
                              what='x', error=AssertionError)
        self.assertEqual('timed out after 0s waiting for x', str(e))
        self.assertIsInstance(e.__cause__, polling.WaitTimeout)

    def test_an_exception_of_the_predicate_ends_the_wait(self):
        calls = []

        def predicate():
            calls.append(1)
            raise ValueError('volume went to error')

        self.assertRaises(ValueError, polling.wait_for, predicate,
                          timeout=5, interval=0)
        self.assertEqual(1, len(calls))
