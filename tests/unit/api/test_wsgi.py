"""The WSGI layer: routing errors, bodies, faults."""

from unittest import mock

import webob

from tests.unit.api import fakes


class RoutingTest(fakes.APITestCase):

    def test_unknown_path_is_404(self):
        resp = self.request('GET', '/v2.1/os-hypervisors')
        self.assertFault(resp, 404, 'itemNotFound',
                         'The resource could not be found.')

    def test_wrong_method_is_405_with_allow(self):
        resp = self.request('PATCH', '/v2.1/servers')
        self.assertFault(resp, 405, 'badMethod', 'PATCH')
        self.assertEqual('GET, POST', resp.headers['Allow'])

    def test_head_is_served_as_get(self):
        self.compute_api.get_all.return_value = []
        resp = self.request('HEAD', '/v2.1/servers')
        self.assertEqual(200, resp.status_int)


class BodyTest(fakes.APITestCase):

    def test_non_json_content_type_is_415(self):
        req = webob.Request.blank('/v2.1/servers', method='POST',
                                  headers={'X-Auth-Token': 'a:b'})
        req.body = b'<server/>'
        req.content_type = 'application/xml'
        resp = req.get_response(self.app)
        self.assertFault(resp, 415, 'badMediaType', 'application/json')

    def test_json_without_content_type_is_accepted(self):
        self.compute_api.create.return_value = fakes.instance()
        req = webob.Request.blank('/v2.1/servers', method='POST',
                                  headers={'X-Auth-Token': 'a:b'})
        req.body = b'{"server": {"name": "x"}}'
        del req.content_type
        self.assertEqual(202, req.get_response(self.app).status_int)

    def test_invalid_content_length_is_400(self):
        req = webob.Request.blank('/v2.1/servers', method='POST',
                                  headers={'X-Auth-Token': 'a:b'})
        req.environ['CONTENT_LENGTH'] = 'lots'
        resp = req.get_response(self.app)
        self.assertFault(resp, 400, 'badRequest', 'Content-Length')

    def test_body_limit_follows_the_option(self):
        self.flags(group='api', max_request_body_size=2048)
        resp = self.request('POST', '/v2.1/servers',
                            {'server': {'name': 'x' * 3000}})
        self.assertFault(resp, 400, 'badRequest',
                         'more than the 2048 allowed')

    def test_chunked_body_over_the_limit_is_400(self):
        self.flags(group='api', max_request_body_size=2048)
        req = webob.Request.blank('/v2.1/servers', method='POST',
                                  headers={'X-Auth-Token': 'a:b',
                                           'Transfer-Encoding': 'chunked'})
        req.body = b'x' * 5000
        del req.environ['CONTENT_LENGTH']
        req.environ['wsgi.input_terminated'] = True
        resp = req.get_response(self.app)
        self.assertFault(resp, 400, 'badRequest',
                         'more than the 2048 bytes allowed')

    def test_non_utf8_query_is_400(self):
        req = webob.Request.blank('/v2.1/os-volume-migrations',
                                  headers={'X-Auth-Token': 'admin:p',
                                           'OpenStack-API-Version':
                                               'compute 2.105'})
        req.environ['QUERY_STRING'] = 'status=%ff'
        resp = req.get_response(self.app)
        self.assertFault(resp, 400, 'badRequest', 'UTF-8')

    def test_huge_integer_is_400(self):
        resp = self.request('POST', '/v2.1/servers',
                            raw=b'{"server": {"name": %s}}' % (b'9' * 5000))
        self.assertFault(resp, 400, 'badRequest', 'Malformed request body')


class FaultTest(fakes.APITestCase):

    def test_failure_outside_controllers_is_a_generic_500(self):
        with mock.patch('nova_volmig.context.RequestContext',
                        side_effect=RuntimeError('boom /secret')):
            resp = self.request('GET', '/v2.1/servers')
        message = self.assertFault(resp, 500, 'computeFault',
                                   'Unexpected API Error')
        self.assertNotIn('boom', message)
        self.assertIn('x-compute-request-id', resp.headers)
