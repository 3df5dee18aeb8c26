"""Hostile and careless input to the volume API (issue 16, 4/6/11/12).

Through the WSGI app the service serves, then over real sockets to its
cheroot server: every error is a JSON fault, never a plain-text page.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from unittest import mock

import requests
import webob

from cinder_driver_side.api import last_resort
from cinder_driver_side.api import server as api_server
from tests import rawhttp
from tests.unit.cinder import base
from volmig_common.wsgi import bodies

HEADERS = {'X-Auth-Token': 'admin:p1',
           'OpenStack-API-Version': 'volume 3.72'}


class _HTTPTestCase(base.CinderTestCase):

    def raw(self, method: str, target: str, body: bytes = b'',
            headers: dict | None = None, port: int | None = None
            ) -> rawhttp.Response:
        headers = {**HEADERS, **(headers or {})}
        if body:
            headers.setdefault('Content-Type', 'application/json')
        return rawhttp.request('127.0.0.1', port or self.svc.port, method,
                               target, headers, body)

    def assertJSONFault(self, resp, code: int,
                        name: str | None = None) -> str:
        """A Cinder fault ``{name: {"code": .., "message": ..}}``."""
        if isinstance(resp, webob.Response):
            status, body, ctype = (resp.status_int, resp.body,
                                   resp.content_type)
        else:
            status, body, ctype = (resp.status, resp.body,
                                   resp.headers.get('content-type', ''))
        self.assertEqual(code, status, body)
        self.assertEqual('application/json', ctype.split(';')[0])
        (fault_name, fault), = json.loads(body).items()
        if name:
            self.assertEqual(name, fault_name)
        self.assertEqual(code, fault['code'])
        return fault['message']

    def blank(self, path: str, query: str | None = None, **kw):
        req = webob.Request.blank(path, headers=dict(HEADERS), **kw)
        if query is not None:
            req.environ['QUERY_STRING'] = query
        return req.get_response(self.svc.wsgi_app)


class NonUTF8URLTest(_HTTPTestCase):
    """Item 4: percent-encoded bytes that are not UTF-8."""

    def test_non_utf8_path_ids_are_400(self):
        for path in ('/v3/p1/volumes/%ff%fe', '/v3/volumes/%c3%28',
                     '/v3/%ff/volumes', '/v3/p1/attachments/%80',
                     '/v3/p1/types/%ed%a0%80/extra_specs'):
            self.assertJSONFault(self.blank(path), 400, 'badRequest')

    def test_non_utf8_query_is_400(self):
        for query in ('%ff=%fe', 'volume_id=%c3%28', 'a=b&%80'):
            message = self.assertJSONFault(
                self.blank('/v3/p1/attachments', query), 400, 'badRequest')
            self.assertIn('query string', message)

    def test_over_http(self):
        for target in ('/v3/p1/volumes/%ff%fe', '/v3/volumes/%c3%28',
                       '/v3/p1/volumes?%ff=%fe'):
            self.assertJSONFault(self.raw('GET', target), 400, 'badRequest')

    def test_utf8_ids_still_404(self):
        self.assertJSONFault(self.blank('/v3/p1/volumes/caf%c3%a9'), 404,
                             'itemNotFound')


class LastResortTest(_HTTPTestCase):

    def test_exception_below_is_a_json_500(self):
        with mock.patch.object(self.svc.app, '_authenticated',
                               side_effect=RuntimeError('secret')):
            resp = self.raw('GET', '/v3/p1/volumes')
        message = self.assertJSONFault(resp, 500, 'computeFault')
        self.assertNotIn('secret', message)
        self.assertNotIn('A server error occurred', message)

    def test_undecodable_part(self):
        self.assertIsNone(last_resort.undecodable_part(
            {'PATH_INFO': '/v3/caf\xc3\xa9', 'QUERY_STRING': 'n=%c3%a9+x'}))
        self.assertEqual('path', last_resort.undecodable_part(
            {'PATH_INFO': '/v3/\xc3('}))


class BodyTest(_HTTPTestCase):
    """Item 6 and lone surrogates: JSON the parser can't hand on."""

    def test_deeply_nested_json_is_400(self):
        for body in (b'[' * 100000, b'{"volume": ' * 50000,
                     b'{"volume": {"name": ' + b'[' * 100000 + b'}}'):
            resp = self.raw('POST', '/v3/p1/volumes', body)
            message = self.assertJSONFault(resp, 400, 'badRequest')
            self.assertIn('JSON', message)

    def test_lone_surrogates_are_400(self):
        for body in (b'{"volume": {"name": "\\ud800", "size": 1}}',
                     b'{"volume": {"size": 1, "\\udfff": 1}}',
                     b'{"volume_type": {"name": "t\\udc80"}}'):
            target = ('/v3/p1/types' if b'volume_type' in body
                      else '/v3/p1/volumes')
            resp = self.raw('POST', target, body)
            message = self.assertJSONFault(resp, 400, 'badRequest')
            self.assertIn('surrogate', message)
        status, body = self.api('GET', '/volumes')
        self.assertEqual([], body['volumes'])

    def test_surrogate_pair_is_a_character(self):
        resp = self.raw('POST', '/v3/p1/volumes',
                        b'{"volume": {"name": "\\ud83d\\ude00", "size": 1}}')
        self.assertEqual(202, resp.status, resp.body)
        self.assertEqual('\U0001f600', resp.json()['volume']['name'])

    def test_has_lone_surrogate(self):
        self.assertFalse(bodies.has_lone_surrogate({'a': ['\U0001f600', 1]}))
        self.assertTrue(bodies.has_lone_surrogate([{'\ud800': None}]))

    def test_microversion_of_thousands_of_digits_is_400(self):
        resp = self.raw('GET', '/v3/p1/volumes', headers={
            'OpenStack-API-Version': 'volume 3.' + '7' * 5000})
        self.assertJSONFault(resp, 400, 'badRequest')


class ServerErrorsTest(_HTTPTestCase):
    """Item 11: what the HTTP server answers itself is a Cinder fault."""

    def exchange(self, data: bytes) -> rawhttp.Response:
        return rawhttp.exchange('127.0.0.1', self.svc.port, data)

    def test_malformed_request_lines(self):
        for data in (b'GARBAGE\r\n\r\n', b'GET /v3\r\n\r\n',
                     b'GET /v3 HTTP/x.y\r\n\r\n', b'Get /v3 HTTP/1.1\r\n\r\n',
                     b'GET /v3#x HTTP/1.1\r\n\r\n', b'GET /v3 HTTP/1.1\n\n'):
            self.assertJSONFault(self.exchange(data), 400, 'badRequest')

    def test_too_long_uri_and_headers(self):
        self.assertJSONFault(self.exchange(
            b'GET /v3/' + b'x' * 70000 + b' HTTP/1.1\r\n\r\n'), 414)
        self.assertJSONFault(self.exchange(
            b'GET /v3 HTTP/1.1\r\nX-A: ' + b'x' * 70000 + b'\r\n\r\n'), 431)

    def test_505_and_501(self):
        self.assertJSONFault(self.exchange(b'GET /v3 HTTP/3.0\r\n\r\n'), 505)
        self.assertJSONFault(self.exchange(
            b'POST /v3/p1/volumes HTTP/1.1\r\nHost: h\r\n'
            b'Transfer-Encoding: br\r\n\r\n'), 501, 'notImplemented')

    def test_too_large_body_is_a_413_fault(self):
        resp = self.raw('POST', '/v3/p1/volumes',
                        b'{"volume": {"name": "%s"}}' % (b'x' * 2000000))
        self.assertJSONFault(resp, 413, 'overLimit')


class ServerTest(_HTTPTestCase):
    """Item 12: idle clients hold no thread; a backlog for bursts."""

    def _small_server(self):
        self.cconf.set_override('osapi_volume_workers_threads', 4)
        self.cconf.set_override('client_socket_timeout', 3)
        small = api_server.WSGIServer(self.svc.wsgi_app, self.cconf,
                                      '127.0.0.1', 0)
        small.start()
        self.addCleanup(small.stop, 5)
        return small

    def test_idle_connections_hold_no_thread(self):
        small = self._small_server()
        for _ in range(40):
            sock = rawhttp.connect('127.0.0.1', small.port)
            self.addCleanup(sock.close)
        started = time.monotonic()
        resp = requests.get('http://127.0.0.1:%d/v3/p1/volumes' % small.port,
                            headers=HEADERS, timeout=10)
        self.assertEqual(200, resp.status_code, resp.text)
        self.assertLess(time.monotonic() - started, 2)

    def test_64_parallel_gets(self):
        self.create_volume()
        url = self.svc.endpoint + '/p1/volumes/detail'

        def get(_):
            return requests.get(url, headers=HEADERS, timeout=10).status_code

        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            codes = list(pool.map(get, range(64)))
        self.assertEqual([200] * 64, codes)

    def test_options_reach_cheroot(self):
        self.cconf.set_override('backlog', 333)
        self.cconf.set_override('max_request_header_size', 4096)
        small = self._small_server()
        cheroot = small._server
        self.assertEqual(333, cheroot.request_queue_size)
        self.assertEqual(4096, cheroot.max_request_header_size)
        self.assertEqual(3, cheroot.timeout)
        self.assertEqual(4, cheroot.requests.max)
        self.assertGreaterEqual(self.svc._server._server.request_queue_size,
                                128)
