"""NUL and over-long strings on the compute API (issue 16 item 8).

Refused with a 400 naming the limit, by schema, before the database; ids
in the URL that no row can have answer 404. The same tests run on
PostgreSQL (tests/functional/distributed/test_postgresql.py), which would
answer a 500 for a NUL reaching a query.
"""

from nova_volmig.db import api as db
from tests.unit.nova import test_rest_integration as rest

NUL = 'a\x00b'
LONG = 'x' * 256
OWNER = dict(user='alice', project='project-a', roles='member')


class TestHostileStrings(rest.RestTestCase):

    def servers(self):
        return [i.uuid for i in db.instance_get_all(self.ctxt,
                                                    all_tenants=True)]

    def assert_refused(self, resp, expected):
        self.assertEqual(400, resp.status_int, resp.text)
        message = resp.json['badRequest']['message']
        self.assertIn(expected, message)
        self.assertNotIn('\x00', message)
        self.assertLess(len(message), 600)

    def test_server_create_strings(self):
        before = self.servers()
        for field in ('name', 'description', 'availability_zone',
                      'imageRef', 'flavorRef'):
            for value, expected in ((NUL, 'NUL'),
                                    (LONG, 'longer than 255 characters')):
                server = {'name': 'vm2', field: value}
                resp = self.request('POST', '/servers', {'server': server},
                                    **OWNER)
                self.assert_refused(resp, expected)
        resp = self.request('POST', '/servers', {'server': {
            'name': 'vm2', NUL: 'x'}}, **OWNER)
        self.assert_refused(resp, 'NUL')
        self.assertEqual(before, self.servers())

    def test_attachment_tag(self):
        volume_id = self.cinder.create_volume()
        path = '/servers/%s/os-volume_attachments' % self.instance.uuid
        for tag, expected in ((NUL, 'NUL'), ('t' * 61, 'longer than 60')):
            resp = self.request('POST', path, {'volumeAttachment': {
                'volumeId': volume_id, 'tag': tag}}, **OWNER)
            self.assert_refused(resp, expected)
        self.assertEqual(1, len(db.bdm_get_all_by_instance(
            self.ctxt, self.instance.uuid)))

    def test_query_strings(self):
        admin = dict(user='admin', project='project-a', roles='admin')
        for query in ('all_tenants=1&tenant_id=a%00b',
                      'all_tenants=1&project_id=a%00b',
                      'unknown_filter=a%00b', 'a%00b=1'):
            resp = self.request('GET', '/servers/detail?' + query, **admin)
            self.assert_refused(resp, 'NUL')

    def test_ids_in_the_path(self):
        server = '/servers/%s' % self.instance.uuid
        for path in ('/servers/a%00b', '/servers/' + 'x' * 300,
                     server + '/os-volume_attachments/a%00b',
                     server + '/os-instance-actions/a%00b',
                     '/servers/a%00b/os-instance-actions'):
            resp = self.request('GET', path, **OWNER)
            self.assertEqual(404, resp.status_int, (path, resp.text))
        resp = self.request('DELETE', server + '/os-volume_attachments/a%00',
                            **OWNER)
        self.assertEqual(404, resp.status_int, resp.text)
