"""The threaded WSGI server, on a real loopback socket."""

import concurrent.futures
import threading

import requests

from nova_volmig.api import server
from tests.unit.api import fakes


class WSGIServerTest(fakes.APITestCase):

    def _start(self, app=None, **kwargs):
        wsgi_server = server.WSGIServer(app or self.app, '127.0.0.1', 0,
                                        **kwargs)
        wsgi_server.start()
        self.addCleanup(wsgi_server.stop)
        return wsgi_server

    def test_ephemeral_port_and_endpoint(self):
        wsgi_server = self._start()
        self.assertGreater(wsgi_server.port, 0)
        self.assertEqual('http://127.0.0.1:%d/' % wsgi_server.port,
                         wsgi_server.endpoint)
        resp = requests.get(wsgi_server.endpoint + 'v2.1', timeout=10)
        self.assertEqual(200, resp.status_code)
        self.assertEqual('2.105', resp.json()['version']['version'])

    def test_api_over_http(self):
        self.compute_api.get_all.return_value = [fakes.instance()]
        wsgi_server = self._start()
        resp = requests.get(wsgi_server.endpoint + 'v2.1/servers',
                            headers={'X-Auth-Token': 'alice:p1'},
                            timeout=10)
        self.assertEqual(200, resp.status_code)
        self.assertEqual(1, len(resp.json()['servers']))
        self.assertTrue(resp.json()['servers'][0]['links'][0]['href']
                        .startswith(wsgi_server.endpoint + 'v2.1/'))

    def test_huge_body_gets_a_clean_400(self):
        wsgi_server = self._start()
        resp = requests.post(wsgi_server.endpoint + 'v2.1/servers',
                             data=b'{' + b' ' * 2000000 + b'}',
                             headers={'X-Auth-Token': 'alice:p1',
                                      'Content-Type': 'application/json'},
                             timeout=30)
        self.assertEqual(400, resp.status_code)
        self.assertIn('more than the', resp.json()['badRequest']['message'])

    def test_concurrent_requests_and_graceful_stop(self):
        release = threading.Event()
        entered = threading.Semaphore(0)

        def slow_app(environ, start_response):
            entered.release()
            release.wait(30)
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [b'done']

        wsgi_server = server.WSGIServer(slow_app, '127.0.0.1', 0,
                                        max_threads=8)
        wsgi_server.start()
        port = wsgi_server.port
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(requests.get, wsgi_server.endpoint,
                                   timeout=30) for _ in range(4)]
            for _ in range(4):
                # All four are served at once, not one after the other.
                self.assertTrue(entered.acquire(timeout=30))
            stopper = threading.Thread(target=wsgi_server.stop)
            stopper.start()
            release.set()
            stopper.join(30)
            self.assertFalse(stopper.is_alive())
            self.assertEqual([b'done'] * 4,
                             [f.result().content for f in futures])
        self.assertRaises(requests.ConnectionError, requests.get,
                          'http://127.0.0.1:%d/' % port, timeout=5)

    def test_stop_is_idempotent(self):
        wsgi_server = self._start()
        port = wsgi_server.port
        wsgi_server.stop()
        wsgi_server.stop()
        self.assertRaises(requests.ConnectionError, requests.get,
                          'http://127.0.0.1:%d/' % port, timeout=5)
