"""The distributed nova-volmig-api and cinder-volmig under idle clients.

The same servers as in the aio (issue 16, item 12): 40 idle connections
to each API don't stop it serving another client at once.
"""

from __future__ import annotations

import time
import urllib.parse

import requests

from tests.functional.distributed import fixtures as dist
from tests import rawhttp

HEADERS = {'X-Auth-Token': 'admin:admin', 'X-Roles': 'admin'}


class TestIdleClients(dist.DistributedTestCase):

    def test_idle_connections_stop_neither_api(self):
        endpoints = ((self.deployment.nova_endpoint, '/servers'),
                     (self.deployment.cinder_endpoint, '/volumes'))
        for endpoint, _path in endpoints:
            parts = urllib.parse.urlsplit(endpoint)
            for _ in range(40):
                sock = rawhttp.connect(parts.hostname, parts.port)
                self.addCleanup(sock.close)
        for endpoint, path in endpoints:
            started = time.monotonic()
            resp = requests.get(endpoint.rstrip('/') + path,
                                headers=HEADERS, timeout=10)
            self.assertEqual(200, resp.status_code, resp.text)
            self.assertLess(time.monotonic() - started, 2, endpoint)
            # Even a malformed request line gets a JSON fault.
            parts = urllib.parse.urlsplit(endpoint)
            bad = rawhttp.exchange(parts.hostname, parts.port,
                                   b'GARBAGE\r\n\r\n')
            self.assertEqual(400, bad.status)
            self.assertEqual(400, bad.json()['badRequest']['code'])
