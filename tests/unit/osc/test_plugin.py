"""The openstack CLI plugin: its client's requests and its commands."""

from unittest import mock

from keystoneauth1 import session as ks_session
import testtools

from volmig_osc import client as client_mod
from volmig_osc import plugin
from volmig_osc.v1 import migrations

RECORD = {'src_attachment_id': 'a1', 'dst_attachment_id': 'a2',
          'instance_uuid': 's1', 'volume_id': 'v1', 'status': 'running',
          'progress': '42', 'created_at': 't0', 'updated_at': 't1',
          'error': None}


class ClientTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.session = mock.Mock(spec=ks_session.Session)
        self.client = client_mod.Client(self.session, region_name='R')

    def answer(self, *bodies):
        self.session.request.side_effect = [
            mock.Mock(json=mock.Mock(return_value=b)) for b in bodies]

    def call(self, n=-1):
        return self.session.request.call_args_list[n]

    def test_server_migrations_at_2_105(self):
        self.answer({'volume_migrations': [RECORD]})
        self.assertEqual([RECORD],
                         self.client.server_migrations('s1', 'running'))
        (url, method), kwargs = self.call()
        self.assertEqual(('/os-volume-migrations', 'GET'), (url, method))
        self.assertEqual('2.105', kwargs['microversion'])
        self.assertEqual('compute', kwargs['endpoint_filter'][
            'service_type'])
        self.assertEqual({'instance_uuid': 's1', 'status': 'running'},
                         kwargs['params'])

    def test_volume_migration_takes_the_live_progress(self):
        self.answer({'migration': {'id': 'm1', 'progress': '10',
                                   'status': 'migrating'}},
                    {'volume': {'migration_status': 'migrating',
                                'migration_progress': '42'}})
        record = self.client.volume_migration('v1')
        self.assertEqual(('42', 'migrating'),
                         (record['progress'], record['migration_status']))
        (url, _method), kwargs = self.call(0)
        self.assertEqual('/volumes/v1/migration', url)
        self.assertEqual(('3.72', 'block-storage'), (
            kwargs['microversion'],
            kwargs['endpoint_filter']['service_type']))

    def test_cancel_is_the_volume_action_at_3_72(self):
        self.answer(None)
        self.client.cancel_volume_migration('v1')
        (url, method), kwargs = self.call()
        self.assertEqual(('/volumes/v1/action', 'POST'), (url, method))
        self.assertEqual({'os-migrate_volume_cancel': None}, kwargs['json'])
        self.assertEqual(('3.72', 'block-storage'), (
            kwargs['microversion'],
            kwargs['endpoint_filter']['service_type']))


class CommandTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.client = mock.Mock(spec=client_mod.Client)
        self.app = mock.Mock()
        self.app.client_manager.volume_migration = self.client

    def test_show_waits_for_a_terminal_status(self):
        self.client.server_migration.side_effect = [
            dict(RECORD), dict(RECORD, status='completed', progress='100')]
        cmd = migrations.ShowServerVolumeMigration(self.app, None)
        args = cmd.get_parser('show').parse_args(['a1', '--wait'])
        with mock.patch('time.sleep'):
            columns, row = cmd.take_action(args)
        self.assertEqual('completed',
                         dict(zip(columns, row))['status'])
        self.assertEqual(2, self.client.server_migration.call_count)

    def test_list_by_server_name(self):
        self.app.client_manager.sdk_connection.compute.find_server \
            .return_value.id = 's1'
        self.client.server_migrations.return_value = [RECORD]
        cmd = migrations.ListServerVolumeMigration(self.app, None)
        args = cmd.get_parser('list').parse_args(['--server', 'vm'])
        columns, rows = cmd.take_action(args)
        self.assertEqual([('a1', 's1', 'v1', 'running', '42')], list(rows))
        self.client.server_migrations.assert_called_once_with('s1', None)

    def test_plugin_builds_its_client(self):
        instance = mock.Mock(region_name='R', interface='internal')
        made = plugin.make_client(instance)
        self.assertEqual(('compute', '2.105', 'internal'),
                         (made.compute_api.service_type,
                          made.compute_api.default_microversion,
                          made.compute_api.interface))

    def test_cancel_waits_for_cancelled(self):
        self.app.client_manager.sdk_connection.block_storage.find_volume \
            .return_value.id = 'v1'
        self.client.volume_migration.side_effect = [
            {'id': 'm1', 'migration_status': 'migrating'},
            {'id': 'm1', 'migration_status': 'cancelled'}]
        cmd = migrations.CancelVolumeMigration(self.app, None)
        args = cmd.get_parser('cancel').parse_args(['vol', '--wait'])
        with mock.patch('time.sleep'):
            columns, row = cmd.take_action(args)
        self.client.cancel_volume_migration.assert_called_once_with('v1')
        self.assertEqual('cancelled',
                         dict(zip(columns, row))['migration_status'])

    def test_cancel_is_an_entry_point(self):
        import configparser
        import os
        cfg = configparser.ConfigParser()
        cfg.read(os.path.join(os.path.dirname(__file__), '..', '..', '..',
                              'setup.cfg'))
        self.assertIn('volume_migration_cancel',
                      cfg['entry_points']['openstack.volume_migration.v1'])
