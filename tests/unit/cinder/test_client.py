"""The volmig CLI (cinder_driver_side/cmd/client.py) against a fake API."""

import io

from rich import console as rich_console

from cinder_driver_side.cmd import client
from tests import base


class FakeAPI:
    """Answers the CLI's calls from a list of volume states."""

    def __init__(self, states, pools=()):
        self.states = list(states)
        self._pools = list(pools)

    def volume(self, volume_id):
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def migration(self, volume_id):
        return {'dest_host': 'cinder1@array1#pool2', 'error': None}

    def pools(self):
        return self._pools


def _console():
    return rich_console.Console(file=io.StringIO(), width=100,
                                force_terminal=False, color_system=None)


class TestProgressBar(base.TestCase):

    def test_a_quick_success_reads_100_percent(self):
        # The first poll already sees the end: no 'migrating' was seen.
        console = _console()
        api = FakeAPI([{'migration_status': 'success',
                        'migration_progress': None}])
        self.assertEqual(0, client.watch(api, 'v1', console, interval=0))
        out = console.file.getvalue()
        self.assertIn('success', out)
        self.assertIn('100%', out)
        self.assertNotIn(' 0%', out)

    def test_progress_then_success(self):
        console = _console()
        api = FakeAPI([
            {'migration_status': 'starting', 'migration_progress': None},
            {'migration_status': 'migrating', 'migration_progress': '40'},
            {'migration_status': 'success', 'migration_progress': None}])
        self.assertEqual(0, client.watch(api, 'v1', console, interval=0))
        self.assertIn('100%', console.file.getvalue())

    def test_an_error_keeps_the_last_percent(self):
        self.assertEqual((None, 'error'), client.bar_state(
            {'migration_status': 'error', 'migration_progress': None}))
        self.assertEqual((40, 'migrating'), client.bar_state(
            {'migration_status': 'migrating', 'migration_progress': '40'}))
        self.assertEqual((100, 'completing'), client.bar_state(
            {'migration_status': 'completing', 'migration_progress': '97'}))


class TestPools(base.TestCase):

    POOLS = [{'name': 'cinder1@array1#pool1',
              'capabilities': {'volume_backend_name': 'array1',
                               'storage_protocol': 'file',
                               'total_capacity_gb': 10.0,
                               'free_capacity_gb': 5.0}},
             {'name': 'cinder1@array2#pool1', 'capabilities': {}}]

    def test_names_one_a_line(self):
        console = _console()
        self.assertEqual(0, client.pools(FakeAPI([{}], self.POOLS), console))
        self.assertEqual('cinder1@array1#pool1\ncinder1@array2#pool1\n',
                         console.file.getvalue())

    def test_detail_table(self):
        console = _console()
        self.assertEqual(0, client.pools(FakeAPI([{}], self.POOLS), console,
                                         detail=True))
        out = console.file.getvalue()
        self.assertIn('cinder1@array1#pool1', out)
        self.assertIn('array1', out)

    def test_parser_has_pools(self):
        args = client.build_parser().parse_args(['pools', '--detail'])
        self.assertEqual('pools', args.command)
        self.assertTrue(args.detail)


MIGRATING = {'migration_status': 'migrating', 'migration_progress': '19',
             'migration_bytes_done': 50 * 1024 * 1024,
             'migration_bytes_total': 256 * 1024 * 1024,
             'migration_rate': 32 * 1024 * 1024, 'migration_eta': 7,
             'migration_bandwidth': 32 * 1024 * 1024}


class TestRateAndEta(base.TestCase):

    def test_bar_shows_rate_and_eta(self):
        console = _console()
        api = FakeAPI([dict(MIGRATING),
                       {'migration_status': 'success',
                        'migration_progress': None}])
        self.assertEqual(0, client.watch(api, 'v1', console, interval=0))
        out = console.file.getvalue()
        self.assertIn('32.0 MiB/s', out)
        self.assertIn('ETA 7 s', out)

    def test_show_prints_bytes_rate_eta(self):
        console = _console()
        api = FakeAPI([dict(MIGRATING, status='in-use')])
        api.migration = lambda volume_id: {'id': 'm1', 'rate': 1}
        client.show(api, 'v1', console)
        out = console.file.getvalue()
        self.assertIn('50.0 MiB of 256.0 MiB', out)
        self.assertIn('32.0 MiB/s', out)
        self.assertIn('7 s', out)

    def test_bandwidth_argument(self):
        parser = client.build_parser()
        args = parser.parse_args(['migrate', 'v1', '--host', 'h@b#p',
                                  '--bandwidth', '32M'])
        self.assertEqual(32 * 1024 * 1024, args.bandwidth)
        self.assertEqual(1000, client.parse_bandwidth('1000'))
        self.assertRaises(SystemExit, parser.parse_args, [
            'migrate', 'v1', '--host', 'h@b#p', '--bandwidth', 'fast'])


class TestCancel(base.TestCase):

    def test_cancel_sends_the_action_and_waits(self):
        console = _console()
        api = FakeAPI([{'migration_status': 'migrating'},
                       {'migration_status': 'cancelled'}])
        api.actions = []
        api.action = lambda volume_id, name, args: api.actions.append(
            (volume_id, name, args))
        self.assertEqual(0, client.cancel(api, 'v1', console, wait=True,
                                          interval=0))
        self.assertEqual([('v1', 'os-migrate_volume_cancel', {})],
                         api.actions)
        self.assertIn('cancelled', console.file.getvalue())

    def test_cancel_too_late_ends_success_and_says_so(self):
        api = FakeAPI([{'migration_status': 'success'}])
        api.action = lambda *args: None
        self.assertEqual(1, client.cancel(api, 'v1', _console(), wait=True,
                                          interval=0))

    def test_parser_has_cancel(self):
        args = client.build_parser().parse_args(['cancel', 'v1', '--wait'])
        self.assertEqual(('cancel', 'v1', True),
                         (args.command, args.volume, args.wait))

    def test_queued_bar_shows_the_position(self):
        self.assertEqual((None, 'queued (#2)'), client.bar_state(
            {'migration_status': 'queued', 'migration_queue_position': 2}))
