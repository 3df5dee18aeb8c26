"""noauth2 and keystone pipelines, request ids."""

import re
from unittest import mock

import webob.dec

from nova_volmig.api import app
from tests.unit.api import fakes

REQ_ID_RE = re.compile(r'^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-'
                       r'[0-9a-f]{4}-[0-9a-f]{12}$')


class NoAuthTest(fakes.APITestCase):

    def setUp(self):
        super().setUp()
        self.compute_api.get_all.return_value = []

    def _context(self):
        return self.compute_api.get_all.call_args.args[0]

    def test_missing_token_is_401(self):
        resp = self.request('GET', '/v2.1/servers', user=None)
        self.assertFault(resp, 401, 'unauthorized', 'X-Auth-Token')
        self.compute_api.get_all.assert_not_called()

    def test_garbled_tokens_are_401(self):
        for token in ('alice', 'alice:', ':proj', 'a:b:c', 'a b:c',
                      'a:b,c', 'x' * 300 + ':p'):
            resp = self.request('GET', '/v2.1/servers', user=None,
                                headers={'X-Auth-Token': token})
            self.assertFault(resp, 401, 'unauthorized',
                             'Malformed X-Auth-Token')
        self.compute_api.get_all.assert_not_called()

    def test_context_from_token_and_roles(self):
        self.request('GET', '/v2.1/servers', user='bob', project='p1',
                     roles=('member', ' reader '))
        ctx = self._context()
        self.assertEqual('bob', ctx.user_id)
        self.assertEqual('p1', ctx.project_id)
        self.assertEqual(['member', 'reader'], ctx.roles)
        self.assertFalse(ctx.is_admin)

    def test_user_admin_always_has_role_admin(self):
        self.request('GET', '/v2.1/servers', user='admin', roles=())
        ctx = self._context()
        self.assertIn('admin', ctx.roles)
        self.assertTrue(ctx.is_admin)

    def test_service_role_is_privileged(self):
        self.request('GET', '/v2.1/servers', user='cinder', roles=('service',))
        self.assertTrue(self._context().is_admin)


class RequestIdTest(fakes.APITestCase):

    def test_every_response_carries_the_request_id(self):
        self.compute_api.get_all.return_value = []
        for kwargs in ({}, {'user': None}):
            resp = self.request('GET', '/v2.1/servers', **kwargs)
            req_id = resp.headers['x-openstack-request-id']
            self.assertRegex(req_id, REQ_ID_RE)
            self.assertEqual(req_id, resp.headers['x-compute-request-id'])
        resp = self.request('GET', '/', user=None)
        self.assertRegex(resp.headers['x-compute-request-id'], REQ_ID_RE)

    def test_context_carries_request_and_global_ids(self):
        self.compute_api.get_all.return_value = []
        global_id = 'req-12345678-1234-1234-1234-123456789abc'
        resp = self.request('GET', '/v2.1/servers', headers={
            'X-OpenStack-Request-ID': global_id})
        ctx = self.compute_api.get_all.call_args.args[0]
        self.assertEqual(resp.headers['x-compute-request-id'],
                         ctx.request_id)
        self.assertEqual(global_id, ctx.global_request_id)


class FakeAuthProtocol:
    """Stands in for keystonemiddleware's auth_token.

    Validates a token from a table and sets the headers auth_token sets.
    """

    TOKENS = {
        'good': {'X-User-Id': 'u1', 'X-Project-Id': 'p1',
                 'X-Roles': 'member,reader', 'X-User-Name': 'alice',
                 'X-Project-Name': 'demo'},
        'svc': {'X-User-Id': 'cinder', 'X-Project-Id': 'service',
                'X-Roles': 'service'},
        'unscoped': {'X-User-Id': 'u1', 'X-Roles': ''},
    }
    instances = []

    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.instances.append(self)

    @webob.dec.wsgify
    def __call__(self, req):
        for header in ('X-Identity-Status', 'X-User-Id', 'X-Project-Id',
                       'X-Roles'):
            req.headers.pop(header, None)  # clients cannot spoof these
        identity = self.TOKENS.get(req.headers.get('X-Auth-Token'))
        if identity is None:
            return webob.Response(status=401, json_body={'error': {
                'code': 401, 'title': 'Unauthorized',
                'message': 'The request you have made requires '
                           'authentication.'}})
        req.headers['X-Identity-Status'] = 'Confirmed'
        req.headers.update(identity)
        return self.app


class KeystonePipelineTest(fakes.APITestCase):

    def setUp(self):
        super().setUp()
        self.flags(group='api', auth_strategy='keystone')
        FakeAuthProtocol.instances = []
        patcher = mock.patch('keystonemiddleware.auth_token.AuthProtocol',
                             FakeAuthProtocol)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.compute_api.get_all.return_value = []
        self._app = app.build_app(self.compute_api,
                                  flavor_api=self.flavor_api)

    def _get(self, token, path='/v2.1/servers', **headers):
        headers['X-Auth-Token'] = token
        return self.request('GET', path, user=None, headers=headers)

    def test_auth_token_gets_our_config(self):
        self.assertEqual(1, len(FakeAuthProtocol.instances))
        self.assertIs(self.conf.conf, FakeAuthProtocol.instances[0]
                      .conf['oslo_config_config'])

    def test_context_from_auth_token_headers(self):
        resp = self._get('good')
        self.assertEqual(200, resp.status_int)
        ctx = self.compute_api.get_all.call_args.args[0]
        self.assertEqual('u1', ctx.user_id)
        self.assertEqual('p1', ctx.project_id)
        self.assertEqual(['member', 'reader'], ctx.roles)
        self.assertEqual('alice', ctx.user_name)
        self.assertEqual('demo', ctx.project_name)
        self.assertFalse(ctx.is_admin)
        self.assertEqual(resp.headers['x-compute-request-id'],
                         ctx.request_id)

    def test_spoofed_identity_headers_are_ignored(self):
        self._get('good', **{'X-Roles': 'admin'})
        ctx = self.compute_api.get_all.call_args.args[0]
        self.assertNotIn('admin', ctx.roles)

    def test_service_token_may_migrate(self):
        self.compute_api.volume_migration_list.return_value = []
        resp = self._get('svc', '/v2.1/os-volume-migrations',
                         **{'OpenStack-API-Version': 'compute 2.105'})
        self.assertEqual(200, resp.status_int)

    def test_bad_token_is_401_from_auth_token(self):
        resp = self._get('bad')
        self.assertEqual(401, resp.status_int)
        self.compute_api.get_all.assert_not_called()
        self.assertIn('x-compute-request-id', resp.headers)

    def test_unscoped_token_is_401(self):
        resp = self._get('unscoped')
        self.assertFault(resp, 401, 'unauthorized', 'project-scoped')

    def test_versions_need_no_token(self):
        resp = self.request('GET', '/', user=None)
        self.assertEqual(200, resp.status_int)

    def test_delayed_decision_invalid_identity_is_401(self):
        from nova_volmig.api import auth

        inner = mock.Mock()
        app_ = auth.KeystoneContext(inner)
        req = webob.Request.blank('/', headers={
            'X-Identity-Status': 'Invalid', 'X-User-Id': 'u',
            'X-Project-Id': 'p'})
        resp = req.get_response(app_)
        self.assertEqual(401, resp.status_int)
        inner.assert_not_called()
