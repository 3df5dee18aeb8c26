"""Hostile and careless input to the compute API (issue 16, 4/5/11/12).

Through the WSGI app, then over a real socket to the cheroot server:
every error is a JSON fault, never a 5xx, and idle clients hold no
thread.
"""

from __future__ import annotations

import concurrent.futures
import socket
import time
from unittest import mock

from oslo_serialization import jsonutils
import requests
import webob

from nova_volmig.api import last_resort
from nova_volmig.api import server
from nova_volmig.api import wsgi
from nova_volmig import exception
from tests import rawhttp
from tests.unit.api import fakes
from volmig_common.wsgi import bodies

LATEST = 'compute %s' % fakes.LATEST


class NonUTF8URLTest(fakes.APITestCase):
    """Item 4: percent-encoded bytes that are not UTF-8."""

    def test_non_utf8_path_ids_are_400(self):
        for path in ('/v2.1/servers/%ff%fe', '/v2.1/servers/%c3%28',
                     '/v2.1/%ff', '/v2.1/servers/x/os-volume_attachments/%80',
                     '/v2.1/os-volume-migrations/%ed%a0%80'):
            resp = self.admin('GET', path, version=fakes.LATEST)
            self.assertFault(resp, 400, 'badRequest', 'not valid UTF-8')

    def test_non_utf8_query_key_is_400(self):
        req = webob.Request.blank('/v2.1/servers',
                                  headers={'X-Auth-Token': 'a:b'})
        req.environ['QUERY_STRING'] = '%ff=%fe'
        resp = req.get_response(self.app)
        self.assertFault(resp, 400, 'badRequest', 'query string')

    def test_utf8_path_is_served(self):
        self.compute_api.get.side_effect = (
            exception.InstanceNotFound(instance_id='\u00e9'))
        resp = self.request('GET', '/v2.1/servers/%c3%a9')
        self.assertFault(resp, 404, 'itemNotFound')

    def test_undecodable_part(self):
        self.assertIsNone(last_resort.undecodable_part(
            {'PATH_INFO': '/v2.1/caf\xc3\xa9', 'QUERY_STRING': 'a=%c3%a9'}))
        self.assertEqual('path', last_resort.undecodable_part(
            {'PATH_INFO': '/v2.1/\xff'}))
        self.assertEqual('query string', last_resort.undecodable_part(
            {'PATH_INFO': '/', 'QUERY_STRING': 'name=%c3%28'}))
        # Text that is not latin-1 bytes (a non-PEP-3333 caller) passes.
        self.assertIsNone(last_resort.undecodable_part(
            {'PATH_INFO': '/\u20ac'}))


class LastResortTest(fakes.APITestCase):

    def test_exception_below_is_a_json_500(self):
        def broken(environ, start_response):
            raise RuntimeError('secret detail')

        resp = webob.Request.blank('/').get_response(
            last_resort.LastResort(broken))
        self.assertEqual(500, resp.status_int)
        self.assertEqual('application/json', resp.content_type)
        message = resp.json_body['computeFault']['message']
        self.assertIn('Unexpected API Error', message)
        self.assertNotIn('secret', message)

    def test_exception_after_start_response_is_a_json_500(self):
        def broken(environ, start_response):
            start_response('200 OK', [('Content-Type', 'text/plain')])
            raise RuntimeError('late')

        calls = []

        def start_response(status, headers, exc_info=None):
            calls.append((status, exc_info))

        body = b''.join(last_resort.LastResort(broken)(
            {'PATH_INFO': '/', 'REQUEST_METHOD': 'GET'}, start_response))
        self.assertEqual(('200 OK', None), calls[0])
        status, exc_info = calls[1]
        self.assertEqual('500 Internal Server Error', status)
        self.assertIsInstance(exc_info[1], RuntimeError)
        self.assertIn('computeFault', jsonutils.loads(body))

    def test_the_app_pipeline_has_it(self):
        with mock.patch.object(wsgi.FaultWrapper, '__call__',
                               side_effect=RuntimeError('boom')):
            resp = self.request('GET', '/v2.1/servers')
        self.assertFault(resp, 500, 'computeFault', 'Unexpected API Error')
        # Inside the request-id middleware: the id is on the answer.
        self.assertIn('x-compute-request-id', resp.headers)


class MicroversionDigitsTest(fakes.APITestCase):
    """Item 5: thousands of digits in a microversion."""

    def test_thousands_of_digits_are_400(self):
        for version in ('2.' + '9' * 5000, '9' * 5000 + '.1',
                        '2.' + '1' * 10):
            resp = self.request('GET', '/v2.1/servers', version=version)
            message = self.assertFault(resp, 400, 'badRequest',
                                       'invalid format')
            self.assertLess(len(message), 300)

    def test_legacy_header_too(self):
        resp = self.request('GET', '/v2.1/servers', headers={
            'X-OpenStack-Nova-API-Version': '2.' + '9' * 5000})
        self.assertFault(resp, 400, 'badRequest')

    def test_nine_digits_parse_and_are_out_of_range(self):
        resp = self.request('GET', '/v2.1/servers',
                            version='2.' + '9' * 9)
        self.assertFault(resp, 406, 'notAcceptable')


class LoneSurrogateTest(fakes.APITestCase):
    """A lone UTF-16 surrogate escape in a JSON string."""

    def test_lone_surrogates_are_400(self):
        for raw in (b'{"server": {"name": "\\ud800"}}',
                    b'{"server": {"name": "a\\udfffb"}}',
                    b'{"server": {"\\udc00": "x", "name": "x"}}',
                    b'{"server": {"name": "x", "metadata": [["\\ud800"]]}}'):
            resp = self.request('POST', '/v2.1/servers', raw=raw)
            self.assertFault(resp, 400, 'badRequest', 'surrogate')
        self.compute_api.create.assert_not_called()

    def test_surrogate_pair_is_a_character(self):
        self.compute_api.create.return_value = fakes.instance()
        resp = self.request('POST', '/v2.1/servers',
                            raw=b'{"server": {"name": "\\ud83d\\ude00"}}')
        self.assertEqual(202, resp.status_int, resp.body)
        self.assertEqual(
            '\U0001f600',
            self.compute_api.create.call_args.kwargs['name'])

    def test_has_lone_surrogate(self):
        self.assertFalse(bodies.has_lone_surrogate(
            {'a': ['b', {'c': 1.5, 'd': None}], 'e': '\U0001f600'}))
        self.assertTrue(bodies.has_lone_surrogate({'a': [{'b': '\udcff'}]}))
        deep = '\ud800'
        for _ in range(5000):
            deep = [deep]
        self.assertTrue(bodies.has_lone_surrogate(deep))


class _ServerTestCase(fakes.APITestCase):
    """The compute API on a real cheroot server."""

    timeout = 2

    def setUp(self):
        super().setUp()
        self.flags(group='api', client_socket_timeout=self.timeout,
                   max_request_header_size=4096, workers_threads=4)
        self.wsgi_server = server.WSGIServer(self.app, '127.0.0.1', 0)
        self.wsgi_server.start()
        self.addCleanup(self.wsgi_server.stop, 5)
        self.host, self.port = '127.0.0.1', self.wsgi_server.port

    def raw(self, data: bytes) -> rawhttp.Response:
        return rawhttp.exchange(self.host, self.port, data)

    def assertJSONFault(self, resp: rawhttp.Response, code: int,
                        name: str | None = None) -> str:
        self.assertEqual(code, resp.status, resp.body)
        self.assertEqual('application/json',
                         resp.headers['content-type'].split(';')[0])
        body = resp.json()
        (fault_name, fault), = body.items()
        if name:
            self.assertEqual(name, fault_name)
        self.assertEqual(code, fault['code'])
        return fault['message']


class ServerErrorsTest(_ServerTestCase):
    """Item 11: errors the HTTP server answers itself."""

    def test_malformed_request_lines(self):
        for line in (b'GARBAGE\r\n\r\n', b'GET /\r\n\r\n',
                     b'GET / FTP/1.1\r\n\r\n', b'GET / HTTP/1\r\n\r\n',
                     b'get / HTTP/1.1\r\n\r\n',
                     b'GET http://h/ HTTP/1.1\r\n\r\n',
                     b'GET nopath HTTP/1.1\r\n\r\n',
                     b'GET /#frag HTTP/1.1\r\n\r\n',
                     b'GET / HTTP/1.1\n\n'):
            resp = self.raw(line)
            self.assertJSONFault(resp, 400, 'badRequest')

    def test_malformed_headers(self):
        resp = self.raw(b'GET / HTTP/1.1\r\nno colon here\r\n\r\n')
        self.assertJSONFault(resp, 400, 'badRequest')
        resp = self.raw(b'POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n')
        self.assertJSONFault(resp, 400, 'badRequest')

    def test_uri_too_long_is_414(self):
        resp = self.raw(b'GET /' + b'a' * 10000 + b' HTTP/1.1\r\n\r\n')
        self.assertJSONFault(resp, 414)

    def test_headers_too_large_are_431(self):
        resp = self.raw(b'GET / HTTP/1.1\r\nX-Big: ' + b'a' * 10000 +
                        b'\r\n\r\n')
        self.assertJSONFault(resp, 431)

    def test_http_2_is_505(self):
        resp = self.raw(b'GET / HTTP/2.0\r\n\r\n')
        self.assertJSONFault(resp, 505)

    def test_unknown_transfer_coding_is_501(self):
        resp = self.raw(b'POST /v2.1/servers HTTP/1.1\r\nHost: h\r\n'
                        b'Transfer-Encoding: gzip\r\n\r\n')
        self.assertJSONFault(resp, 501, 'notImplemented')

    def test_request_cut_short_is_408(self):
        with rawhttp.connect(self.host, self.port) as sock:
            sock.sendall(b'GET /v2.1 HTTP/1.1\r\nHost: h\r\n')
            started = time.monotonic()
            resp = rawhttp.read_response(sock)
        self.assertJSONFault(resp, 408)
        self.assertLess(time.monotonic() - started, self.timeout + 5)

    def test_non_utf8_path_over_http(self):
        for target in ('/v2.1/servers/%ff%fe', '/v2.1/servers?%ff=%fe',
                       '/v2.1/servers/%c3%28'):
            resp = rawhttp.request(self.host, self.port, 'GET', target,
                                   {'X-Auth-Token': 'alice:p1'})
            self.assertJSONFault(resp, 400, 'badRequest')

    def test_surrogate_body_over_http(self):
        resp = rawhttp.request(
            self.host, self.port, 'POST', '/v2.1/servers',
            {'X-Auth-Token': 'alice:p1', 'Content-Type': 'application/json'},
            b'{"server": {"name": "\\ud800"}}')
        self.assertJSONFault(resp, 400, 'badRequest')

    def test_huge_declared_body_closes_instead_of_reading(self):
        # Refused by the body limit: the rest is not read (nor waited for).
        with rawhttp.connect(self.host, self.port) as sock:
            sock.sendall(b'POST /v2.1/servers HTTP/1.1\r\nHost: h\r\n'
                         b'X-Auth-Token: a:b\r\n'
                         b'Content-Type: application/json\r\n'
                         b'Content-Length: 100000000000\r\n\r\n{')
            resp = rawhttp.read_response(sock)
            self.assertJSONFault(resp, 400, 'badRequest')
            self.assertEqual('close', resp.headers.get('connection'))

    def test_bare_app_exception_is_a_json_500(self):
        def broken(environ, start_response):
            raise RuntimeError('secret')

        bare = server.WSGIServer(broken, '127.0.0.1', 0)
        bare.start()
        self.addCleanup(bare.stop, 5)
        resp = rawhttp.request(self.host, bare.port, 'GET', '/')
        message = self.assertJSONFault(resp, 500, 'computeFault')
        self.assertNotIn('secret', message)


class IdleClientsTest(_ServerTestCase):
    """Item 12: idle connections don't stop the API serving others."""

    timeout = 3

    def _idle_sockets(self, count: int) -> list[socket.socket]:
        socks = []
        for _ in range(count):
            socks.append(rawhttp.connect(self.host, self.port))
            self.addCleanup(socks[-1].close)
        return socks

    def test_idle_connections_hold_no_thread(self):
        # 4 threads; 40 fresh connections that send nothing.
        self._idle_sockets(40)
        started = time.monotonic()
        resp = requests.get(self.wsgi_server.endpoint + 'v2.1', timeout=10)
        self.assertEqual(200, resp.status_code)
        self.assertLess(time.monotonic() - started, 2)

    def test_idle_keep_alive_connections_hold_no_thread(self):
        socks = self._idle_sockets(12)
        for sock in socks:
            sock.sendall(b'GET /v2.1 HTTP/1.1\r\nHost: h\r\n\r\n')
            self.assertEqual(200, rawhttp.read_response(sock).status)
        started = time.monotonic()
        resp = requests.get(self.wsgi_server.endpoint + 'v2.1', timeout=10)
        self.assertEqual(200, resp.status_code)
        self.assertLess(time.monotonic() - started, 2)

    def test_idle_connections_are_closed_after_the_timeout(self):
        sock, = self._idle_sockets(1)
        sock.settimeout(self.timeout + 10)
        started = time.monotonic()
        self.assertEqual(b'', sock.recv(1))
        self.assertLess(time.monotonic() - started, self.timeout + 5)

    def test_parallel_requests(self):
        self._idle_sockets(16)
        url = self.wsgi_server.endpoint + 'v2.1'
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(
                lambda _: requests.get(url, timeout=10).status_code,
                range(64)))
        self.assertEqual([200] * 64, codes)


class ServerOptionsTest(fakes.APITestCase):

    def test_options_reach_cheroot(self):
        self.flags(group='api', client_socket_timeout=7, backlog=300,
                   max_request_header_size=5000, workers_threads=3)
        wsgi_server = server.WSGIServer(self.app, '127.0.0.1', 0)
        wsgi_server.start()
        self.addCleanup(wsgi_server.stop, 5)
        cheroot = wsgi_server._server
        self.assertEqual(7, cheroot.timeout)
        self.assertEqual(300, cheroot.request_queue_size)
        self.assertEqual(5000, cheroot.max_request_header_size)
        self.assertEqual(3, cheroot.requests.max)

    def test_api_service_uses_it(self):
        from nova_volmig import service
        with mock.patch('nova_volmig.api.app.build_app',
                        return_value=self.app):
            api = service.APIService('127.0.0.1', 0)
        self.assertIsInstance(api.server, server.WSGIServer)
        api.start()
        self.addCleanup(api.stop)
        resp = requests.get(api.endpoint, timeout=10)
        self.assertEqual(jsonutils.loads(resp.content)['version']['id'],
                         'v2.1')
