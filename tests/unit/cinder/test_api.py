"""REST API through the WSGI app (webob Request.blank)."""

from cinder_driver_side import conf as cinder_conf
from cinder_driver_side import policies
from tests.unit.cinder import base

INSTANCE = '11111111-2222-3333-4444-555555555555'


class VolumeAPITest(base.CinderTestCase):

    def test_versions_document(self):
        for path in ('/', '/v3/'):
            status, body = self.api('GET', path, token=None, version=None)
            self.assertEqual(200, status)
            [version] = body['versions']
            self.assertEqual(('3.0', '3.72'), (version['min_version'],
                                               version['version']))

    def test_unsupported_version_and_auth(self):
        status, body = self.api('GET', '/volumes', version='3.73')
        self.assertEqual(406, status)
        self.assertIn('3.72', body['notAcceptable']['message'])
        self.assertEqual(401, self.api('GET', '/volumes', token='')[0])

    def test_migration_fields_admin_only_and_versioned(self):
        volume_id = self.create_volume()
        self.svc.db.volume_update(base._admin(), volume_id, {
            'migration_status': 'migrating', 'migration_progress': '42'})
        admin = self.volume(volume_id)
        self.assertEqual('migrating', admin['migration_status'])
        self.assertEqual('42', admin['migration_progress'])
        self.assertEqual('aio@array1#pool1', admin['os-vol-host-attr:host'])
        self.assertNotIn('migration_progress',
                         self.volume(volume_id, version='3.71'))
        self.assertEqual('migrating', self.volume(volume_id, version='3.71')[
            'migration_status'])
        member = self.volume(volume_id, token='alice:p1', roles='member')
        for key in ('migration_status', 'migration_progress',
                    'os-vol-host-attr:host', 'os-vol-mig-status-attr:migstat'):
            self.assertNotIn(key, member)
        self.svc.db.volume_update(base._admin(), volume_id, {
            'migration_status': 'completing'})
        self.assertNotIn('migration_progress', self.volume(volume_id))

    def test_other_project_is_not_found(self):
        volume_id = self.create_volume()
        status, body = self.api('GET', '/volumes/%s' % volume_id,
                                token='bob:p2')
        self.assertEqual(404, status)
        self.assertIn(volume_id, body['itemNotFound']['message'])

    def test_non_admin_cannot_migrate(self):
        volume_id = self.create_volume()
        status, body = self.api(
            'POST', '/volumes/%s/action' % volume_id,
            {'os-migrate_volume': {'host': 'aio@array1#pool2'}},
            token='alice:p1', roles='member')
        self.assertEqual(403, status)
        self.assertIn(policies.MIGRATE, body['forbidden']['message'])

    def test_schema_errors(self):
        volume_id = self.create_volume()
        status, body = self.api('POST', '/volumes/%s/action' % volume_id,
                                {'os-migrate_volume': {'hots': 'x'}})
        self.assertEqual(400, status)
        self.assertIn('host', body['badRequest']['message'])
        status, body = self.api('POST', '/volumes', {'volume': {}})
        self.assertEqual(400, status)

    def test_list_and_delete(self):
        volume_id = self.create_volume()
        status, body = self.api('GET', '/volumes')
        self.assertEqual([volume_id], [v['id'] for v in body['volumes']])
        status, body = self.api('GET', '/volumes/detail')
        self.assertEqual('available', body['volumes'][0]['status'])
        path = self.path_of(volume_id)
        self.assertEqual(202, self.api('DELETE', '/volumes/%s'
                                       % volume_id)[0])
        self.assertEqual(404, self.api('GET', '/volumes/%s'
                                       % volume_id)[0])
        self.assertEqual([], self.pool_files('array1', 'pool1'))
        self.assertFalse(path.endswith('x'))

    def test_types_and_placement(self):
        status, body = self.api('POST', '/types', {'volume_type': {
            'name': 'fast', 'extra_specs': {'volume_backend_name':
                                            'array2'}}})
        self.assertEqual(200, status, body)
        volume_id = self.create_volume(volume_type='fast')
        self.assertEqual('aio@array2#pool1',
                         self.volume(volume_id)['os-vol-host-attr:host'])
        status, body = self.api('GET', '/types')
        self.assertEqual({'__DEFAULT__', 'fast'},
                         {t['name'] for t in body['volume_types']})
        # A typed volume only moves within its backend name.
        status, body = self.migrate(volume_id, host='aio@array1#pool1')
        self.assertEqual(400, status)
        self.assertIn('volume_backend_name', body['badRequest']['message'])


class AttachmentAPITest(base.CinderTestCase):

    def test_attachment_life_cycle(self):
        volume_id = self.create_volume()
        status, body = self.api('POST', '/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': INSTANCE}})
        self.assertEqual(200, status, body)
        att = body['attachment']
        self.assertEqual('reserved', att['status'])
        self.assertNotIn('connection_info', att)
        self.assertEqual('reserved', self.volume(volume_id)['status'])
        status, body = self.api('PUT', '/attachments/%s' % att['id'], {
            'attachment': {'connector': {'host': 'compute1'}}})
        self.assertEqual(200, status, body)
        self.assertEqual({'driver_volume_type': 'file', 'data': {
            'device_path': self.path_of(volume_id), 'format': 'raw'}},
            body['attachment']['connection_info'])
        self.assertEqual(404, self.api(
            'POST', '/attachments/%s/action' % att['id'],
            {'os-complete': None}, version='3.43')[0])
        self.assertEqual(204, self.api(
            'POST', '/attachments/%s/action' % att['id'],
            {'os-complete': None})[0])
        volume = self.volume(volume_id)
        self.assertEqual('in-use', volume['status'])
        self.assertEqual(INSTANCE, volume['attachments'][0]['server_id'])
        # Not multiattach: a second attachment is refused.
        status, body = self.api('POST', '/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': INSTANCE}})
        self.assertEqual(400, status)
        self.assertEqual(200, self.api('DELETE', '/attachments/%s'
                                       % att['id'])[0])
        self.assertEqual('available', self.volume(volume_id)['status'])
        self.assertEqual(404, self.api('DELETE', '/attachments/%s'
                                       % att['id'])[0])

    def test_attachments_need_3_27(self):
        status, body = self.api('GET', '/attachments', version='3.26')
        self.assertEqual(404, status)
        self.assertIn('itemNotFound', body)


class ConfigAndPolicyTest(base.CinderTestCase):

    def test_list_opts_and_rules(self):
        groups = dict(cinder_conf.list_opts())
        for group in ('DEFAULT', 'database', 'backend_defaults'):
            self.assertIn(group, groups)
        names = {r.name for r in policies.list_rules()}
        self.assertIn(policies.MIG_STATUS, names)
        self.assertIn(policies.MIG_PROGRESS, names)

    def test_aio_arrays(self):
        hosts = [h for a in self.svc.manager.arrays.values()
                 for h in a.pool_hosts()]
        self.assertEqual(['aio@array1#pool1', 'aio@array1#pool2',
                          'aio@array2#pool1'], hosts)
        self.assertTrue(self.svc.db.connection.startswith('sqlite:///'))
        self.assertTrue(self.svc.db.connection.endswith(
            'cinder-volmig.sqlite'))
