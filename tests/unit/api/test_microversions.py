"""Microversion negotiation and the versions documents."""

from nova_volmig.api import api_version_request as avr
from tests.unit.api import fakes


class APIVersionRequestTest(fakes.APITestCase):

    def test_parse_and_compare(self):
        self.assertEqual(avr.APIVersionRequest('2.10'),
                         avr.APIVersionRequest('2.10'))
        self.assertLess(avr.APIVersionRequest('2.9'),
                        avr.APIVersionRequest('2.10'))
        self.assertTrue(avr.APIVersionRequest('2.105').matches('2.105'))
        self.assertFalse(avr.APIVersionRequest('2.104').matches('2.105'))
        self.assertTrue(avr.APIVersionRequest('2.5').matches(None, '2.5'))
        self.assertTrue(avr.APIVersionRequest().is_null())

    def test_invalid_strings(self):
        for value in ('2', '2.', 'two.one', '2.1.1', '02.1', '2.01', ' 2.1',
                      '', '2.1a'):
            self.assertRaises(avr.InvalidAPIVersionString,
                              avr.APIVersionRequest, value)

    def test_from_headers(self):
        self.assertEqual('2.1', avr.from_headers({}).get_string())
        self.assertEqual('2.105', avr.from_headers(
            {'OpenStack-API-Version': 'compute latest'}).get_string())
        self.assertEqual('2.60', avr.from_headers(
            {'OpenStack-API-Version': 'volume 3.72, compute 2.60'}
        ).get_string())
        self.assertEqual('2.70', avr.from_headers(
            {'X-OpenStack-Nova-API-Version': '2.70'}).get_string())
        # The new header wins over the legacy one.
        self.assertEqual('2.80', avr.from_headers(
            {'OpenStack-API-Version': 'compute 2.80',
             'X-OpenStack-Nova-API-Version': '2.70'}).get_string())
        # Another service's version only: the default.
        self.assertEqual('2.1', avr.from_headers(
            {'OpenStack-API-Version': 'volume 3.72'}).get_string())


class NegotiationTest(fakes.APITestCase):

    def setUp(self):
        super().setUp()
        self.compute_api.get_all.return_value = []

    def test_default_is_2_1_and_echoed(self):
        resp = self.request('GET', '/v2.1/servers')
        self.assertEqual(200, resp.status_int)
        self.assertEqual('compute 2.1', resp.headers['OpenStack-API-Version'])
        self.assertEqual('2.1', resp.headers['X-OpenStack-Nova-API-Version'])
        self.assertIn('OpenStack-API-Version', resp.headers['Vary'])
        self.assertIn('X-OpenStack-Nova-API-Version', resp.headers['Vary'])

    def test_latest(self):
        resp = self.request('GET', '/v2.1/servers', version='latest')
        self.assertEqual('compute 2.105',
                         resp.headers['OpenStack-API-Version'])

    def test_malformed_version_is_400(self):
        for version in ('2.x', 'abc', '2'):
            resp = self.request('GET', '/v2.1/servers', version=version)
            self.assertFault(resp, 400, 'badRequest', 'invalid format')
        resp = self.request('GET', '/v2.1/servers', headers={
            'X-OpenStack-Nova-API-Version': 'nope'})
        self.assertFault(resp, 400, 'badRequest', 'invalid format')

    def test_out_of_range_is_406(self):
        for version in ('2.106', '3.0', '2.0', '1.1'):
            resp = self.request('GET', '/v2.1/servers', version=version)
            self.assertFault(resp, 406, 'notAcceptable',
                             'Minimum is 2.1 and maximum is 2.105')

    def test_errors_carry_the_version_headers(self):
        from nova_volmig import exception
        self.compute_api.get.side_effect = exception.InstanceNotFound(
            instance_id='x')
        resp = self.request('GET', '/v2.1/servers/x', version='2.105')
        self.assertFault(resp, 404, 'itemNotFound')
        self.assertEqual('compute 2.105',
                         resp.headers['OpenStack-API-Version'])


class VersionsDocumentTest(fakes.APITestCase):

    def _check_v21(self, version, href):
        self.assertEqual('v2.1', version['id'])
        self.assertEqual('CURRENT', version['status'])
        self.assertEqual('2.105', version['version'])
        self.assertEqual('2.1', version['min_version'])
        self.assertEqual({'rel': 'self', 'href': href}, version['links'][0])

    def test_root_lists_versions_without_auth(self):
        for path in ('/', ''):
            resp = self.request('GET', path or '/', user=None)
            self.assertEqual(200, resp.status_int)
            versions = resp.json_body['versions']
            self.assertEqual(1, len(versions))
            self._check_v21(versions[0], 'http://localhost/v2.1/')

    def test_v21_document_without_auth(self):
        for path in ('/v2.1', '/v2.1/'):
            resp = self.request('GET', path, user=None)
            self.assertEqual(200, resp.status_int)
            version = resp.json_body['version']
            self._check_v21(version, 'http://localhost/v2.1/')
            self.assertEqual('application/json',
                             version['media-types'][0]['base'])

    def test_v21_document_under_project_id(self):
        resp = self.request('GET', '/v2.1/%s' % fakes.PROJECT)
        self.assertEqual(200, resp.status_int)
        self._check_v21(resp.json_body['version'], 'http://localhost/v2.1/')

    def test_public_endpoint(self):
        self.flags(group='api', public_endpoint='https://nova.example:8774')
        resp = self.request('GET', '/', user=None)
        self.assertEqual('https://nova.example:8774/v2.1/',
                         resp.json_body['versions'][0]['links'][0]['href'])

    def test_versions_are_read_only(self):
        resp = self.request('POST', '/', {'x': 1}, user=None)
        self.assertFault(resp, 405, 'badMethod')
        self.assertEqual('GET, HEAD', resp.headers['Allow'])

    def test_unknown_top_level_path_is_404(self):
        for path in ('/v2', '/v3/servers', '/favicon.ico'):
            resp = self.request('GET', path, user=None)
            self.assertFault(resp, 404, 'itemNotFound')
