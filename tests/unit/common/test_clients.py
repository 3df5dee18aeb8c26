"""volmig_common.clients: the adapters every REST client is built on."""

import http.server
import json
import threading

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from cinder_driver_side.cmd import client
from cinder_driver_side.compute import nova
from cinder_driver_side import service
from nova_volmig import context
from nova_volmig.volume import cinder
from tests import base
from volmig_common import clients


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with 200 and records its line and headers."""

    seen: list = []

    def _answer(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        self.seen.append((self.command, self.path, dict(self.headers),
                          body))
        payload = json.dumps({'ok': True}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


class TestAdapters(base.TestCase):

    def setUp(self):
        super().setUp()
        _Recorder.seen = []
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      _Recorder)
        thread = threading.Thread(target=self.server.serve_forever,
                                  daemon=True)
        thread.start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.endpoint = 'http://127.0.0.1:%d/v2.1/' % self.server.server_port

    def test_compute_adapter_microversion_and_token(self):
        adapter = clients.compute_adapter(
            clients.token_session('cinder:service', 'service'),
            self.endpoint, connect_retries=2)
        resp = adapter.post('/os-volume-migrations',
                            json={'volume_migration': {}})
        self.assertEqual(200, resp.status_code)
        self.assertEqual(2, adapter.connect_retries)
        method, path, headers, body = _Recorder.seen[0]
        self.assertEqual(('POST', '/v2.1/os-volume-migrations'),
                         (method, path))
        self.assertEqual('compute 2.105', headers['OpenStack-API-Version'])
        self.assertEqual('2.105', headers['X-OpenStack-Nova-API-Version'])
        self.assertEqual('cinder:service', headers['X-Auth-Token'])
        self.assertEqual('service', headers['X-Roles'])
        self.assertEqual('application/json', headers['Accept'])
        self.assertEqual({'volume_migration': {}}, json.loads(body))

    def test_volume_adapter_call_headers_win(self):
        adapter = clients.volume_adapter(
            ks_session.Session(), self.endpoint + 'admin', '3.44',
            headers=clients.token_headers('admin:admin', 'admin'))
        adapter.get('/volumes/v1')
        adapter.get('/volumes/v1', headers={
            'OpenStack-API-Version': 'volume 3.71',
            'X-Auth-Token': 'alice:p1'})
        first, second = [seen[2] for seen in _Recorder.seen]
        self.assertEqual('/v2.1/admin/volumes/v1', _Recorder.seen[0][1])
        self.assertEqual('volume 3.44', first['OpenStack-API-Version'])
        self.assertEqual('admin:admin', first['X-Auth-Token'])
        self.assertEqual('volume 3.71', second['OpenStack-API-Version'])
        self.assertEqual('alice:p1', second['X-Auth-Token'])

    def test_http_errors_are_answers_not_exceptions(self):
        adapter = clients.volume_adapter(ks_session.Session(), self.endpoint)
        self.server.RequestHandlerClass = _NotFound
        self.assertEqual(404, adapter.get('/volumes/gone').status_code)

    def test_refused_connection_raises_connect_failure(self):
        port = self.server.server_port
        self.server.shutdown()
        self.server.server_close()
        adapter = clients.compute_adapter(
            ks_session.Session(), 'http://127.0.0.1:%d/v2.1' % port)
        self.assertRaises(ks_exc.ConnectFailure, adapter.get, '/servers')


class _NotFound(_Recorder):

    def do_GET(self):
        self.send_response(404)
        self.send_header('Content-Length', '0')
        self.end_headers()


class TestServiceClients(base.TestCase):
    """The production clients on the recorder: headers as before."""

    def setUp(self):
        super().setUp()
        _Recorder.seen = []
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      _Recorder)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.base = 'http://127.0.0.1:%d' % self.server.server_port

    def test_cinder_driver_side_nova_client(self):
        conf = service.aio_config(self.state_path, port=0,
                                  nova_endpoint=self.base + '/v2.1')
        nova.NovaClient(conf).get_volume_migration('a1')
        method, path, headers, _body = _Recorder.seen[0]
        self.assertEqual(('GET', '/v2.1/os-volume-migrations/a1'),
                         (method, path))
        self.assertEqual('compute 2.105', headers['OpenStack-API-Version'])
        self.assertEqual('2.105', headers['X-OpenStack-Nova-API-Version'])
        self.assertEqual('cinder:service', headers['X-Auth-Token'])
        self.assertEqual('service', headers['X-Roles'])

    def test_nova_volmig_cinder_client(self):
        self.flags(group='cinder', endpoint_override=self.base + '/v3')
        cinder.reset()
        self.addCleanup(cinder.reset)
        ctx = context.RequestContext(user_id='alice', project_id='p1',
                                     roles=['member', 'reader'])
        cinder.API().attachment_complete(ctx, 'att1')
        method, path, headers, body = _Recorder.seen[0]
        self.assertEqual(('POST', '/v3/p1/attachments/att1/action'),
                         (method, path))
        self.assertEqual({'os-complete': None}, json.loads(body))
        self.assertEqual('volume 3.44', headers['OpenStack-API-Version'])
        self.assertEqual('alice:p1', headers['X-Auth-Token'])
        self.assertEqual('member,reader', headers['X-Roles'])
        self.assertEqual(ctx.request_id, headers['X-OpenStack-Request-ID'])

    def test_volmig_cli_errors(self):
        self.server.RequestHandlerClass = _NotFound
        api = client.VolumeAPI(self.base + '/v3/admin', 'admin:admin',
                               'admin')
        e = self.assertRaises(client.ClientError, api.volume, 'gone')
        self.assertIn('HTTP 404', str(e))
        self.server.shutdown()
        self.server.server_close()
        e = self.assertRaises(client.ClientError, api.volume, 'v1')
        self.assertIn('cannot reach %s/v3/admin' % self.base, str(e))
