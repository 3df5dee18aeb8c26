"""Hostile HTTP against a real nova-volmig-aio (issue 16, 4/5/6/11/12).

Both APIs as deployed: cheroot servers in the aio process, reached over
loopback sockets. Idle connections must not stop either API, a burst of
64 parallel requests must all be served, and every malformed request
gets a JSON fault, never a 5xx.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
import time
import urllib.parse

import requests

from tests import base
from tests.functional.fixtures import aio as aio_fixtures
from tests import rawhttp

TIMEOUT = 5
NOVA = {'X-Auth-Token': 'admin:admin', 'X-Roles': 'admin',
        'OpenStack-API-Version': 'compute 2.105'}
CINDER = {'X-Auth-Token': 'admin:admin', 'X-Roles': 'admin',
          'OpenStack-API-Version': 'volume 3.72'}


class HostileHTTPTest(base.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.mkdtemp(prefix='volmig-http-')
        cls.aio = aio_fixtures.Aio(
            cls._tmp, nova_conf={'api': {'client_socket_timeout': TIMEOUT}},
            cinder_conf={'DEFAULT': {'client_socket_timeout': TIMEOUT}})
        try:
            cls.aio.setUp()
        except BaseException:
            shutil.rmtree(cls._tmp, ignore_errors=True)
            raise
        cls.nova_url = cls.aio.info['compute']
        cls.cinder_url = cls.aio.info['volume']
        cls.nova_addr = _addr(cls.nova_url)
        cls.cinder_addr = _addr(cls.cinder_url)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.aio.cleanUp()
        finally:
            shutil.rmtree(cls._tmp, ignore_errors=True)
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.addOnException(lambda _exc: self.addDetail(
            'aio-log', __import__('testtools').content.text_content(
                self.aio.log_tail(100))))

    def assertJSONFault(self, resp: rawhttp.Response, code: int) -> dict:
        self.assertEqual(code, resp.status, resp.body)
        self.assertEqual('application/json',
                         resp.headers['content-type'].split(';')[0])
        (_name, fault), = resp.json().items()
        self.assertEqual(code, fault['code'])
        return fault

    def _idle(self, addr, count: int) -> None:
        for _ in range(count):
            sock = rawhttp.connect(*addr)
            self.addCleanup(sock.close)

    def test_idle_connections_stop_neither_api(self):
        self._idle(self.nova_addr, 40)
        self._idle(self.cinder_addr, 40)
        for url, headers in ((self.nova_url + '/servers', NOVA),
                             (self.cinder_url + '/volumes', CINDER)):
            started = time.monotonic()
            resp = requests.get(url, headers=headers, timeout=10)
            self.assertEqual(200, resp.status_code, resp.text)
            self.assertLess(time.monotonic() - started, 2, url)

    def test_idle_connection_is_closed_after_the_timeout(self):
        for addr in (self.nova_addr, self.cinder_addr):
            with rawhttp.connect(*addr, timeout=TIMEOUT + 10) as sock:
                started = time.monotonic()
                self.assertEqual(b'', sock.recv(1))
                self.assertLess(time.monotonic() - started, TIMEOUT + 5)

    def test_64_parallel_gets_to_cinder(self):
        self._idle(self.cinder_addr, 16)
        url = self.cinder_url + '/volumes/detail'

        def get(_):
            return requests.get(url, headers=CINDER, timeout=5).status_code

        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            codes = list(pool.map(get, range(64)))
        self.assertEqual([200] * 64, codes)

    def test_malformed_requests_get_json_faults(self):
        for addr in (self.nova_addr, self.cinder_addr):
            for data, code in (
                    (b'GARBAGE\r\n\r\n', 400),
                    (b'GET / FTP/1.1\r\n\r\n', 400),
                    (b'GET /' + b'a' * 70000 + b' HTTP/1.1\r\n\r\n', 414),
                    (b'GET / HTTP/1.1\r\nX: ' + b'a' * 70000 + b'\r\n\r\n',
                     431),
                    (b'GET / HTTP/2.0\r\n\r\n', 505)):
                self.assertJSONFault(rawhttp.exchange(*addr, data), code)

    def test_request_cut_short_is_408(self):
        for addr in (self.nova_addr, self.cinder_addr):
            with rawhttp.connect(*addr, timeout=TIMEOUT + 10) as sock:
                sock.sendall(b'GET / HTTP/1.1\r\nHost: h\r\n')
                self.assertJSONFault(rawhttp.read_response(sock), 408)

    def test_non_utf8_urls_are_400(self):
        nova_prefix = urllib.parse.urlsplit(self.nova_url).path
        cinder_prefix = urllib.parse.urlsplit(self.cinder_url).path
        for addr, headers, target in (
                (self.nova_addr, NOVA, nova_prefix + '/servers/%ff%fe'),
                (self.nova_addr, NOVA, nova_prefix + '/servers?%ff=%fe'),
                (self.cinder_addr, CINDER, cinder_prefix + '/volumes/%c3%28'),
                (self.cinder_addr, CINDER,
                 cinder_prefix + '/volumes?%ff=%fe')):
            self.assertJSONFault(
                rawhttp.request(*addr, 'GET', target, headers), 400)

    def test_bad_bodies_and_versions_are_400(self):
        nova_prefix = urllib.parse.urlsplit(self.nova_url).path
        cinder_prefix = urllib.parse.urlsplit(self.cinder_url).path
        json_type = {'Content-Type': 'application/json'}
        cases = (
            (self.cinder_addr, CINDER, cinder_prefix + '/volumes',
             b'[' * 100000),
            (self.cinder_addr, CINDER, cinder_prefix + '/volumes',
             b'{"volume": {"name": "\\ud800", "size": 1}}'),
            (self.nova_addr, NOVA, nova_prefix + '/servers',
             b'{"server": {"name": "\\ud800"}}'))
        for addr, headers, target, body in cases:
            self.assertJSONFault(rawhttp.request(
                *addr, 'POST', target, {**headers, **json_type}, body), 400)
        self.assertJSONFault(rawhttp.request(
            *self.nova_addr, 'GET', nova_prefix + '/servers',
            {**NOVA, 'OpenStack-API-Version': 'compute 2.' + '9' * 5000}),
            400)


def _addr(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port
