"""Cinder's refusals reach the caller as refusals (issue 16 item 10).

Attaching a volume that Cinder will not attach (already attached
elsewhere, not multiattach) answered 502 "Unexpected API Error": Cinder's
400 became a CinderAPIError. Now Cinder's 400, 403 and 409 are Nova's
400, 403 and 409 with Cinder's message; other failures stay a 502.
"""

from __future__ import annotations

import json
from unittest import mock

import fixtures
import requests

from cinder_driver_side import service as cinder_service
from nova_volmig.api import app as api_app
from nova_volmig.compute import api as compute_api
from nova_volmig import exception
from nova_volmig.volume import cinder
from tests.unit.nova import test_rest_integration as rest

OWNER = dict(user='alice', project='project-a', roles='member')
OTHER_INSTANCE = '0f7a4a3e-8c1e-4d35-a8a4-6a0f0f4f5e01'


class TestCinderRefusalsOverRest(rest.RestTestCase):
    """The Nova REST API with the real Cinder client and Cinder service."""

    def setUp(self):
        super().setUp()
        cconf = cinder_service.aio_config(self.state_file('cinder'), port=0)
        self.cinder_svc = cinder_service.CinderService(cconf)
        self.cinder_svc.start()
        self.addCleanup(self.cinder_svc.stop)
        self.flags(group='cinder', endpoint_override=self.cinder_svc.endpoint,
                   auth_strategy='noauth2', http_retries=0)
        cinder.reset()
        self.addCleanup(cinder.reset)
        self.app = api_app.build_app(
            compute_api.API(volume_api=cinder.API()))

    def cinder_api(self, method, path, body=None):
        resp = requests.request(
            method, '%s/project-a%s' % (self.cinder_svc.endpoint, path),
            data=json.dumps(body) if body is not None else None,
            headers={'X-Auth-Token': 'alice:project-a', 'X-Roles': 'member',
                     'Content-Type': 'application/json',
                     'OpenStack-API-Version': 'volume 3.44'}, timeout=30)
        return resp.status_code, resp.json() if resp.content else None

    def attach(self, volume_id):
        return self.request(
            'POST', '/servers/%s/os-volume_attachments' % self.instance.uuid,
            {'volumeAttachment': {'volumeId': volume_id}}, **OWNER)

    def test_volume_attached_elsewhere_is_400_with_cinders_message(self):
        status, body = self.cinder_api('POST', '/volumes', {'volume': {
            'size_bytes': 1024 * 1024, 'name': 'v'}})
        self.assertEqual(202, status, body)
        volume_id = body['volume']['id']
        status, body = self.cinder_api('POST', '/attachments', {
            'attachment': {'volume_uuid': volume_id,
                           'instance_uuid': OTHER_INSTANCE}})
        self.assertEqual(200, status, body)

        resp = self.attach(volume_id)
        self.assertEqual(400, resp.status_int, resp.text)
        message = resp.json['badRequest']['message']
        self.assertIn('volume %s is already attached and is not multiattach'
                      % volume_id, message)
        self.assertNotIn('Unexpected API Error', message)
        # Refused before anything was recorded: no BDM, the task state
        # released, so a later attach of another volume works.
        self.assertIsNone(self.instance_now().task_state)
        self.assertEqual(
            [self.volume_id],
            [b['volumeId'] for b in self.request(
                'GET', '/servers/%s/os-volume_attachments'
                % self.instance.uuid, **OWNER).json['volumeAttachments']])


class _Response:
    def __init__(self, status: int, body: dict | None):
        self.status_code = status
        self.content = json.dumps(body).encode() if body else b''
        self._body = body

    def json(self):
        return self._body


class TestCinderStatusMapping(rest.RestTestCase):
    """Each Cinder status, through the client, to the Nova API's answer."""

    def setUp(self):
        super().setUp()
        self.flags(group='cinder', http_retries=0)
        self.session = mock.Mock()
        self.useFixture(fixtures.MockPatchObject(
            cinder, '_session', return_value=self.session))
        self.app = api_app.build_app(
            compute_api.API(volume_api=cinder.API()))

    def test_client_exceptions(self):
        api = cinder.API()
        ctx = self.ctxt
        for status, name, error in (
                (400, 'badRequest', exception.CinderBadRequest),
                (403, 'forbidden', exception.CinderForbidden),
                (409, 'conflictingRequest', exception.CinderConflict),
                (401, 'unauthorized', exception.CinderAPIError),
                (500, 'computeFault', exception.CinderAPIError)):
            self.session.request.return_value = _Response(
                status, {name: {'code': status, 'message': 'said %d'
                                % status}})
            e = self.assertRaises(error, api.attachment_create, ctx,
                                  self.volume_id, self.instance.uuid)
            self.assertIsInstance(e, exception.CinderAPIError)
            if status in (400, 403, 409):
                self.assertEqual(status, e.code)
                self.assertEqual('said %d' % status, e.format_message())
            else:
                self.assertEqual(502, e.code)

    def test_rest_answers(self):
        volume_id = 'c3d5ac88-3a1d-4c2f-8d7b-4a0ef2cb2f1e'
        path = '/servers/%s/os-volume_attachments' % self.instance.uuid
        body = {'volumeAttachment': {'volumeId': volume_id}}
        for status, name, nova_name in (
                (400, 'badRequest', 'badRequest'),
                (403, 'forbidden', 'forbidden'),
                (409, 'conflictingRequest', 'conflict')):
            self.session.request.return_value = _Response(
                status, {name: {'code': status,
                                'message': 'Cinder says no (%d)' % status}})
            resp = self.request('POST', path, body, **OWNER)
            self.assertEqual(status, resp.status_int, resp.text)
            self.assertEqual('Cinder says no (%d)' % status,
                             resp.json[nova_name]['message'])
        self.session.request.return_value = _Response(
            500, {'computeFault': {'code': 500, 'message': 'boom'}})
        resp = self.request('POST', path, body, **OWNER)
        self.assertEqual(502, resp.status_int, resp.text)
