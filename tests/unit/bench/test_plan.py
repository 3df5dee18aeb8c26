"""The run's plan and command line: defaults, scenarios, bad input."""

from tests import base
from volmig_bench import cli
from volmig_bench import exception
from volmig_bench import link
from volmig_bench import plan

G = plan.GiB


def _plan(*argv):
    parser = __import__('argparse').ArgumentParser()
    cli.add_run_arguments(parser)
    return cli.build_plan(parser.parse_args(list(argv)))


class PlanTestCase(base.TestCase):

    def test_defaults_are_the_issue_s(self):
        p = _plan()
        self.assertEqual((G,), p.sizes)
        self.assertEqual((20 * 10 ** 6,), p.rates)
        self.assertEqual(((64 * 1024, 1),), p.mix)
        self.assertEqual(0.6, p.fraction)
        self.assertEqual(link.LinkSpec(10 ** 9, 10.0), p.link)
        self.assertEqual(['nbd:cfr', 'file:cfr', 'file:xfs-reflink'],
                         [str(b) for b in p.backends])
        self.assertEqual(('new', 'legacy', 'new-write_blocking', 'new-rebase'),
                         p.flows)
        self.assertEqual(3, len(p.cases()))
        self.assertEqual(4, p.migrations_per_case)

    def test_convergence_scenario(self):
        p = _plan('--scenario', 'convergence')
        self.assertEqual((40 * 10 ** 6,), p.rates)
        self.assertEqual(200 * 10 ** 6, p.link.rate_bit)
        self.assertEqual(['nbd:cfr'], [str(b) for b in p.backends])
        # An explicit option still wins.
        p = _plan('--scenario', 'convergence', '--rate', '30M',
                  '--link-rate-mbit', '100')
        self.assertEqual((30 * 10 ** 6,), p.rates)
        self.assertEqual(100 * 10 ** 6, p.link.rate_bit)
        self.assertEqual(10.0, p.link.latency_ms)

    def test_sweeps(self):
        p = _plan('--sweep', 'sizes=1G,4G', '--backends', 'nbd:cfr')
        self.assertEqual((G, 4 * G), p.sizes)
        self.assertEqual([G, 4 * G], [c.size for c in p.cases()])
        p = _plan('--sweep', 'rates=10M,20M,40M')
        self.assertEqual((10 ** 7, 2 * 10 ** 7, 4 * 10 ** 7), p.rates)
        # Backends innermost: a sweep point's backends are side by side.
        self.assertEqual(['nbd:cfr', 'file:cfr', 'file:xfs-reflink'] * 3,
                         [str(c.backend) for c in p.cases()])

    def test_backends_and_flows(self):
        p = _plan('--backends', 'file:xfs,nbd', '--flows', 'legacy,new',
                  '--repeat', '2')
        self.assertEqual(['file:xfs-reflink', 'nbd:cfr'],
                         [str(b) for b in p.backends])
        self.assertEqual(['file_xfs_reflink', 'nbd_cfr'],
                         [b.name for b in p.backends])
        self.assertEqual(4, p.migrations_per_case)

    def test_bad_input_is_refused_clearly(self):
        for argv in (['--size', '32G'], ['--size', '8M'],
                     ['--size', '1000k'], ['--sweep', 'sizes='],
                     ['--sweep', 'colors=red'], ['--backends', 'iscsi:cfr'],
                     ['--backends', 'nbd:cfr,nbd:cfr'],
                     ['--flows', 'new,new-write_blocking'],
                     ['--flows', 'legacy'], ['--flows', 'new,teleport'],
                     ['--rate', '0'], ['--fraction', '0'],
                     ['--repeat', '0'], ['--align', '1000'],
                     ['--mix', '3k'], ['--legacy-timeout', '5'],
                     ['--size', '16M', '--mix', '32m']):
            self.assertRaises(exception.InvalidParameter, _plan, *argv)

    def test_describe_is_json_ready(self):
        import json

        d = _plan('--sweep', 'sizes=64M,128M').describe()
        self.assertEqual([64 << 20, 128 << 20], json.loads(
            json.dumps(d))['sizes'])
        self.assertEqual('sizes=64M,128M', d['sweep'])


class DefaultCommandTestCase(base.TestCase):

    def test_no_arguments_means_run(self):
        self.assertEqual(['run'], cli._with_default_command([]))
        self.assertEqual(['run', '--size', '4G'],
                         cli._with_default_command(['--size', '4G']))

    def test_main_routes_to_run(self):
        seen = []
        self.patch(cli, 'cmd_run', lambda args: seen.append(args))
        self.assertEqual(0, cli.main(['--size', '64M', '--state-path',
                                      self.state_path]))
        self.assertEqual('run', seen[0].command)
        self.assertEqual('64M', seen[0].size)
        self.assertEqual(self.state_path, seen[0].state_path)

    def test_bad_input_is_an_error_exit(self):
        self.assertEqual(1, cli.main(['--size', '99G', '--state-path',
                                      self.state_path]))
