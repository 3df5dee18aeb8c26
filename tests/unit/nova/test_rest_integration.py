"""The compute REST API over the real compute API, RPC and manager.

The WSGI app, compute API, volmig-inproc:/ RPC, manager and a SQLite
*file* database are all real; only the hypervisor (FakeDriver) and
Cinder are fakes. These are the issue's whole-stack checks: 50
concurrent starts with exactly one winner, and instance operations
refused while a migration is active.
"""

import concurrent.futures
import json

import webob

from nova_volmig.api import app as api_app
from nova_volmig.compute import api as compute_api
from nova_volmig.db import api as db
from tests.unit.nova import test_volume_migration as base

MV = {'OpenStack-API-Version': 'compute 2.105'}


class RestTestCase(base.ComputeTestCase):

    def setUp(self):
        super().setUp()
        self.app = api_app.build_app(compute_api.API(volume_api=self.cinder))

    def request(self, method, path, body=None, user='cinder',
                project='service', roles='service', headers=None):
        req = webob.Request.blank('/v2.1' + path, method=method)
        req.headers['X-Auth-Token'] = '%s:%s' % (user, project)
        req.headers['X-Roles'] = roles
        req.headers.update(MV)
        req.headers.update(headers or {})
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = 'application/json'
        return req.get_response(self.app)

    def start(self, attachment_id=None):
        return self.request('POST', '/os-volume-migrations', {
            'volume_migration': {
                'src_attachment_id': attachment_id or self.src}})


class TestConcurrentStart(RestTestCase):

    def test_fifty_concurrent_starts_exactly_one_201(self):
        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            responses = list(pool.map(lambda _: self.start(), range(50)))
        codes = [r.status_int for r in responses]
        self.assertEqual(1, codes.count(201), codes)
        self.assertEqual(49, codes.count(409), codes)
        for r in responses:
            if r.status_int == 409:
                self.assertEqual(409, r.json['conflict']['code'])
                self.assertTrue(r.json['conflict']['message'])
        winner = next(r for r in responses if r.status_int == 201)
        self.assertEqual('running', winner.json['volume_migration']['status'])
        # The record is consistent afterwards: one migration, running,
        # and the instance claimed once.
        migrations = db.migration_get_all(self.service_ctxt,
                                          instance_uuid=self.instance.uuid)
        self.assertEqual(['running'], [m.status for m in migrations])
        self.assertEqual('volume_migrating', self.instance_now().task_state)
        listed = self.request('GET', '/os-volume-migrations?instance_uuid=%s'
                              % self.instance.uuid).json
        self.assertEqual(1, len(listed['volume_migrations']))


class TestServerOperationsWhileMigrating(RestTestCase):

    def test_operations_answer_409(self):
        self.assertEqual(201, self.start().status_int)
        server = '/servers/%s' % self.instance.uuid
        owner = dict(user='alice', project='project-a', roles='member')
        volume2 = self.cinder.create_volume()
        # What Cinder's legacy flow sets before it asks for the swap.
        new_volume = self.cinder.create_volume(
            migration_status='target:%s' % self.volume_id)
        self.cinder.volumes[self.volume_id]['migration_status'] = 'migrating'
        calls = [
            ('POST', server + '/action', {'os-stop': None}, owner),
            ('POST', server + '/action', {'os-start': None}, owner),
            ('DELETE', server, None, owner),
            ('POST', server + '/os-volume_attachments',
             {'volumeAttachment': {'volumeId': volume2}}, owner),
            ('DELETE', server + '/os-volume_attachments/' + self.volume_id,
             None, owner),
            ('PUT', server + '/os-volume_attachments/' + self.volume_id,
             {'volumeAttachment': {'volumeId': new_volume}},
             dict(user='admin', project='admin', roles='admin')),
        ]
        for method, path, body, who in calls:
            resp = self.request(method, path, body, **who)
            self.assertEqual(409, resp.status_int,
                             '%s %s: %s' % (method, path, resp.body))
            self.assertIn('volume_migrating',
                          resp.json['conflict']['message'])
        self.assertEqual('running', self.migration_now().status)
        # The instance is still there and still migrating.
        body = self.request('GET', server, **owner).json['server']
        self.assertEqual('volume_migrating', body['OS-EXT-STS:task_state'])
        self.assertEqual('ACTIVE', body['status'])

    def test_full_flow_over_rest(self):
        resp = self.start()
        self.assertEqual(201, resp.status_int)
        dst = self.dst_attachment()
        resp = self.request('POST', '/os-volume-migrations/%s/action'
                            % self.src,
                            {'complete': {'dst_attachment_id': dst}})
        self.assertEqual(202, resp.status_int, resp.body)
        self.wait_status('completed')
        record = self.request('GET', '/os-volume-migrations/%s'
                              % self.src).json['volume_migration']
        self.assertEqual('completed', record['status'])
        self.assertEqual(dst, record['dst_attachment_id'])
        attachments = self.request(
            'GET', '/servers/%s/os-volume_attachments' % self.instance.uuid,
            user='alice', project='project-a', roles='member'
        ).json['volumeAttachments']
        self.assertEqual([dst], [a['attachment_id'] for a in attachments])
        self.assertEqual([self.volume_id], [a['volumeId']
                                            for a in attachments])


class TestDriverFaultsOverRest(RestTestCase):
    """Driver errors cross RPC with their class: right code, clear text."""

    def test_overlay_dir_failure_is_500_with_message(self):
        from nova_volmig.virt.libvirt import exception as lv_exc
        self.driver.fail['volume_migration_start'] = \
            lv_exc.OverlayDirUnavailable(path='/nowhere',
                                         reason='it does not exist')
        resp = self.start()
        self.assertEqual(500, resp.status_int, resp.body)
        self.assertIn('/nowhere', resp.json['computeFault']['message'])
        self.assertIsNone(self.instance_now().task_state)
        self.assertEqual('error', self.migration_now().status)

    def test_no_space_for_overlay_is_409(self):
        from nova_volmig.virt.libvirt import exception as lv_exc
        self.driver.fail['volume_migration_start'] = \
            lv_exc.OverlayNoSpace(path='/overlays/x.qcow2',
                                  reason='No space left on device')
        resp = self.start()
        self.assertEqual(409, resp.status_int, resp.body)
        self.assertIn('No space left', resp.json['conflict']['message'])
        # Nothing was redirected: a new start is allowed at once.
        self.assertEqual(201, self.start().status_int)
