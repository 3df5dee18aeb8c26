"""volmig_common.wsgi on its own: no service's code, any fault format."""

from __future__ import annotations

import subprocess
import sys

from oslo_serialization import jsonutils
from oslotest import base
import webob

from tests import rawhttp
from volmig_common.wsgi import bodies
from volmig_common.wsgi import faults
from volmig_common.wsgi import last_resort
from volmig_common.wsgi import openapi
from volmig_common.wsgi import opts
from volmig_common.wsgi import server


def other_fault(code: int, message: str) -> dict:
    """A fault format neither service uses."""
    return {'error': {'status': code, 'detail': message}}


class IndependenceTest(base.BaseTestCase):

    def test_imports_no_service_package(self):
        # A fresh interpreter: this one has loaded both services already.
        code = ('import sys\n'
                'import volmig_common.wsgi.bodies, volmig_common.wsgi.faults,'
                ' volmig_common.wsgi.last_resort, volmig_common.wsgi.openapi,'
                ' volmig_common.wsgi.opts, volmig_common.wsgi.server,'
                ' volmig_common.wsgi.validation\n'
                'print(sorted(m for m in sys.modules if m.split(".")[0] in '
                '("nova_volmig", "cinder_driver_side", "volmig_bench")))\n')
        out = subprocess.run([sys.executable, '-c', code], check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual('[]', out.strip())


class ServerTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.wsgi_server = server.WSGIServer(
            self.app, '127.0.0.1', 0, fault_body=other_fault, max_threads=2,
            client_socket_timeout=5, backlog=128,
            max_request_header_size=2048)
        self.wsgi_server.start()
        self.addCleanup(self.wsgi_server.stop, 5)

    @staticmethod
    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'served']

    def exchange(self, data: bytes) -> rawhttp.Response:
        return rawhttp.exchange('127.0.0.1', self.wsgi_server.port, data)

    def test_serves_the_app(self):
        resp = rawhttp.request('127.0.0.1', self.wsgi_server.port, 'GET',
                               '/')
        self.assertEqual((200, b'served'), (resp.status, resp.body))

    def test_its_own_errors_have_the_given_fault_format(self):
        for data, code in ((b'GARBAGE\r\n\r\n', 400),
                           (b'GET / HTTP/1.1\r\nX: ' + b'a' * 4000 +
                            b'\r\n\r\n', 431),
                           (b'GET / HTTP/2.0\r\n\r\n', 505)):
            resp = self.exchange(data)
            self.assertEqual(code, resp.status)
            self.assertEqual('application/json',
                             resp.headers['content-type'])
            self.assertEqual('close', resp.headers['connection'])
            self.assertEqual(code, resp.json()['error']['status'])

    def test_options_reach_cheroot(self):
        cheroot = self.wsgi_server._server
        self.assertEqual(5, cheroot.timeout)
        self.assertEqual(128, cheroot.request_queue_size)
        self.assertEqual(2048, cheroot.max_request_header_size)
        self.assertEqual(2, cheroot.requests.max)


class LastResortTest(base.BaseTestCase):

    def middleware(self, app):
        return last_resort.LastResort(app, other_fault,
                                      'Failed: see %(request_id)s.')

    def test_500_names_the_request(self):
        def broken(environ, start_response):
            raise RuntimeError('secret')

        req = webob.Request.blank('/')
        req.environ['openstack.request_id'] = 'req-1'
        resp = req.get_response(self.middleware(broken))
        self.assertEqual(500, resp.status_int)
        self.assertEqual({'error': {'status': 500,
                                    'detail': 'Failed: see req-1.'}},
                         jsonutils.loads(resp.body))

    def test_non_utf8_query_is_400(self):
        req = webob.Request.blank('/')
        req.environ['QUERY_STRING'] = 'a=%ff'
        resp = req.get_response(self.middleware(None))
        self.assertEqual(400, resp.status_int)
        self.assertEqual(last_resort.NOT_UTF8 % 'query string',
                         resp.json_body['error']['detail'])


class BodiesTest(base.BaseTestCase):

    def test_has_nul_looks_at_strings_and_keys(self):
        self.assertTrue(bodies.has_nul('a\x00'))
        self.assertTrue(bodies.has_nul({'\x00': 1}))
        self.assertFalse(bodies.has_nul({'a': '\x00'}))   # one level only
        self.assertFalse(bodies.has_nul(['\x00']))

    def test_shorten(self):
        self.assertEqual('ab\\x00', bodies.shorten('ab\x00', 10))
        self.assertEqual('aaa...', bodies.shorten('a' * 50, 3))
        self.assertEqual('[1, 2]', bodies.shorten([1, 2], 10))


class OpenAPITest(base.BaseTestCase):

    def test_document_skeleton(self):
        named, unnamed = {'type': 'object'}, {'type': 'string'}
        components = openapi.Components({id(named): 'Named'}, {404: 'nf'})
        self.assertEqual({'$ref': '#/components/schemas/Named'},
                         components.ref(named))
        self.assertIs(unnamed, components.ref(unnamed))
        doc = openapi.document(
            service_type='thing', title='T', version='1.5',
            description='D', server_url='/v1', min_version='1.0',
            paths={'/x/{id}': {}}, components=components)
        self.assertEqual(['/x/{id}', openapi.DOCUMENT_PATH],
                         list(doc['paths']))
        self.assertEqual(['Fault', 'Named'],
                         list(doc['components']['schemas']))
        self.assertEqual(
            faults.fault_schema({404: 'nf'}),
            doc['components']['schemas']['Fault'])
        self.assertEqual(['computeFault', 'nf'], doc['components'][
            'schemas']['Fault']['propertyNames']['enum'])
        self.assertEqual('thing 1.5', doc['components']['parameters'][
            'microversion']['examples']['latest']['value'])

    def test_operation(self):
        operation = openapi.operation('x.action', 'x', 'Act.', '/x/{id}',
                                      ['b', 'a'])
        self.assertEqual('Actions: a, b.', operation['description'])
        self.assertEqual(['id'], [p['name'] for p in
                                  operation['parameters'][1:]])


class OptsTest(base.BaseTestCase):

    def test_new_options_each_call(self):
        first, second = opts.server_opts(), opts.server_opts()
        self.assertEqual(['client_socket_timeout', 'backlog',
                          'max_request_header_size'],
                         [opt.name for opt in first])
        self.assertTrue(all(a is not b for a, b in zip(first, second)))
