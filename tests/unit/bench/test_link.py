"""Shaped link: commands issued, teardown on failure (no real netns)."""

import os
import signal
from unittest import mock

from tests import base
from volmig_bench import cleanup
from volmig_bench import exception
from volmig_bench import link


class LinkSpecTestCase(base.TestCase):

    def test_defaults(self):
        spec = link.LinkSpec()
        self.assertEqual(10 ** 9, spec.rate_bit)
        self.assertEqual(10.0, spec.latency_ms)
        self.assertEqual(125000, spec.burst_bytes)
        self.assertEqual(65536, link.LinkSpec(rate_bit=10 ** 8).burst_bytes)
        self.assertEqual('1000 Mbit/s, 10 ms queue', spec.describe())

    def test_invalid(self):
        self.assertRaises(exception.InvalidParameter, link.LinkSpec,
                          rate_bit=10)
        self.assertRaises(exception.InvalidParameter, link.LinkSpec,
                          latency_ms=0)

    def test_bytes(self):
        d = link.LinkBytes(100, 50) - link.LinkBytes(40, 10)
        self.assertEqual((60, 40, 100), (d.to_array, d.from_array, d.total))

    def test_throttle_group_fallback(self):
        args = link.throttle_group_args(link.LinkSpec(rate_bit=8 * 10 ** 6))
        self.assertEqual(['--object', 'throttle-group,id=volmig-link,'
                          'x-bps-read=1000000,x-bps-write=1000000'], args)


class ShapedLinkTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.calls = []
        self.fail_on = None
        self.useFixture(mockpatch('volmig_bench.link._run', self._run))
        self.useFixture(mockpatch('volmig_bench.link.LOCK_FILE',
                                  self.state_file('link.lock')))
        self.useFixture(mockpatch('volmig_bench.link.list_namespaces',
                                  lambda: [c[3] for c in self.calls
                                           if c[:3] == ('ip', 'netns',
                                                        'add')]))
        self.useFixture(mockpatch('volmig_bench.link.namespace_pids',
                                  lambda ns: []))

    def _run(self, *cmd, check_exit_code=True):
        self.calls.append(cmd)
        if self.fail_on and self.fail_on in cmd:
            raise exception.LinkError(name='-', reason='boom')
        if cmd[:3] == ('ip', '-o', '-4'):
            return ('1: lo    inet 127.0.0.1/8 scope host lo\n'
                    '9: x    inet 169.254.77.1/30 scope global x\n')
        return ''

    def test_create_shapes_both_ends_and_destroys(self):
        with link.shaped_link(link.LinkSpec(rate_bit=2 * 10 ** 8,
                                            latency_ms=10,
                                            delay_ms=5)) as lnk:
            # The first /30 is taken on this host: the second is used.
            self.assertEqual('169.254.77.5', lnk.host_address)
            self.assertEqual('169.254.77.6', lnk.array_address)
            self.assertEqual(['ip', 'netns', 'exec', lnk.namespace, 'x'],
                             lnk.netns_argv(['x']))
        tbf = [c for c in self.calls if 'tbf' in c]
        self.assertEqual(2, len(tbf))
        self.assertIn(lnk.host_ifname, tbf[0])
        self.assertIn(lnk.array_ifname, tbf[1])
        self.assertEqual(('ip', 'netns', 'exec', lnk.namespace),
                         tbf[1][:4])
        for c in tbf:
            self.assertIn('200000000bit', c)
            self.assertIn('10ms', c)
        self.assertEqual(2, len([c for c in self.calls if 'netem' in c]))
        self.assertIn(('ip', 'netns', 'del', lnk.namespace), self.calls)
        self.assertLessEqual(len(lnk.host_ifname), 15)

    def test_failed_set_up_tears_down(self):
        self.fail_on = 'tbf'
        self.assertRaises(exception.LinkError,
                          link.shaped_link().__enter__)
        dels = [c for c in self.calls if c[:3] == ('ip', 'netns', 'del')]
        self.assertEqual(1, len(dels))

    def test_sigterm_inside_tears_down(self):
        def body():
            with link.shaped_link():
                os.kill(os.getpid(), signal.SIGTERM)
                self.fail('SIGTERM did not interrupt')

        self.assertRaises(cleanup.Terminated, body)
        self.assertEqual(1, len([c for c in self.calls
                                 if c[:3] == ('ip', 'netns', 'del')]))
        # The previous handler is back.
        self.assertEqual(signal.SIG_DFL,
                         signal.getsignal(signal.SIGTERM))


def mockpatch(target, new):
    import fixtures

    return fixtures.MockPatch(target, new)


class CleanupTestCase(base.TestCase):

    def test_stale_namespaces_of_dead_owners_only(self):
        calls = []
        alive = os.getpid()
        with mock.patch.object(link, 'list_namespaces', return_value=[
                'volmig-bench-%d-1' % alive, 'volmig-bench-999999999-2',
                'other-ns']), \
                mock.patch.object(link, 'namespace_pids', return_value=[]), \
                mock.patch.object(link, '_run',
                                  side_effect=lambda *c, **k: calls.append(
                                      c) or ''):
            removed = link.cleanup_stale()
        self.assertEqual(['volmig-bench-999999999-2'], removed)
        self.assertEqual([('ip', 'netns', 'del',
                           'volmig-bench-999999999-2')], calls)
