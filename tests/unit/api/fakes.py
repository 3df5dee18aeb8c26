"""Fakes for API unit tests: the compute API interface and model rows."""

from __future__ import annotations

import datetime
from unittest import mock

from oslo_serialization import jsonutils
from oslo_utils import uuidutils
import webob

from nova_volmig.api import app
from nova_volmig.compute import power_state
from nova_volmig.compute import vm_states
from nova_volmig.db import models
from nova_volmig import exception
from tests import base

T0 = datetime.datetime(2025, 1, 2, 3, 4, 5, 678901)

PROJECT = 'c0ffee00c0ffee00c0ffee00c0ffee00'
OTHER_PROJECT = 'beef0000beef0000beef0000beef0000'

SERVICE_ROLES = ['service']
LATEST = '2.105'


class ComputeAPIStub:
    """The interface of ``nova_volmig.compute.api.API`` the API calls."""

    def create(self, context, *, name, flavor_ref=None, image_ref=None,
               availability_zone=None):
        pass

    def get(self, context, instance_id):
        pass

    def get_all(self, context, *, all_tenants=False, project_id=None):
        pass

    def delete(self, context, instance):
        pass

    def start(self, context, instance):
        pass

    def stop(self, context, instance):
        pass

    def get_attachments(self, context, instance):
        pass

    def get_attachment(self, context, instance, volume_id):
        pass

    def attach_volume(self, context, instance, volume_id, device=None):
        pass

    def detach_volume(self, context, instance, volume_id):
        pass

    def swap_volume(self, context, instance, old_volume_id, new_volume_id):
        pass

    def volume_migration_start(self, context, src_attachment_id):
        pass

    def volume_migration_get(self, context, src_attachment_id):
        pass

    def volume_migration_list(self, context, *, instance_uuid=None,
                              status=None):
        pass

    def volume_migration_complete(self, context, src_attachment_id,
                                  dst_attachment_id):
        pass

    def volume_migration_cancel(self, context, src_attachment_id):
        pass

    def get_instance_actions(self, context, instance):
        pass

    def get_instance_action(self, context, instance, request_id):
        pass


FLAVORS = {'1': {'id': '1', 'name': 'volmig.tiny', 'ram': 64, 'vcpus': 1,
                 'disk': 0}}


class FlavorStub:

    def get_all(self):
        return list(FLAVORS.values())

    def get(self, flavor_id):
        try:
            return dict(FLAVORS[flavor_id])
        except KeyError:
            raise exception.NotFound('Flavor %s could not be found.'
                                     % flavor_id)


def instance(**values) -> models.Instance:
    defaults = dict(
        id=1, uuid=uuidutils.generate_uuid(), display_name='vm1',
        project_id=PROJECT, user_id='alice', host='compute1',
        availability_zone='nova', vm_state=vm_states.ACTIVE,
        power_state=power_state.RUNNING, task_state=None, locked=False,
        memory_mb=64, vcpus=1, flavor_ref='1', image_ref=None, fault=None,
        created_at=T0, updated_at=T0, launched_at=T0, terminated_at=None,
        deleted=False)
    defaults.update(values)
    return models.Instance(**defaults)


def bdm(instance_uuid: str, **values) -> models.BlockDeviceMapping:
    defaults = dict(
        id=7, instance_uuid=instance_uuid,
        volume_id=uuidutils.generate_uuid(),
        attachment_id=uuidutils.generate_uuid(), device_name='/dev/vdb',
        multiattach=False, status='attached', swap_progress=None,
        created_at=T0, updated_at=None, deleted=False)
    defaults.update(values)
    return models.BlockDeviceMapping(**defaults)


def migration(**values) -> models.VolumeMigration:
    defaults = dict(
        id=3, src_attachment_id=uuidutils.generate_uuid(),
        dst_attachment_id=None, instance_uuid=uuidutils.generate_uuid(),
        volume_id=uuidutils.generate_uuid(), host='compute1',
        status='running', progress=None, error=None, created_at=T0,
        updated_at=None)
    defaults.update(values)
    return models.VolumeMigration(**defaults)


class APITestCase(base.TestCase):
    """Builds the app over an autospec'd compute API (noauth2)."""

    def setUp(self):
        super().setUp()
        from nova_volmig import policy
        policy.reset()
        self.addCleanup(policy.reset)
        self.compute_api = mock.create_autospec(ComputeAPIStub,
                                                instance=True)
        self.flavor_api = FlavorStub()

    @property
    def app(self):
        if not hasattr(self, '_app'):
            self._app = app.build_app(self.compute_api,
                                      flavor_api=self.flavor_api)
        return self._app

    def request(self, method: str, path: str, body=None, *,
                user: str = 'alice', project: str = PROJECT,
                roles=('member',), version: str | None = None,
                headers: dict | None = None, raw: bytes | None = None
                ) -> webob.Response:
        req = webob.Request.blank(path, method=method)
        if user is not None:
            req.headers['X-Auth-Token'] = '%s:%s' % (user, project)
            req.headers['X-Roles'] = ','.join(roles)
        if version is not None:
            req.headers['OpenStack-API-Version'] = 'compute %s' % version
        if raw is not None:
            req.body = raw
            req.content_type = 'application/json'
        elif body is not None:
            req.body = jsonutils.dump_as_bytes(body)
            req.content_type = 'application/json'
        for key, value in (headers or {}).items():
            req.headers[key] = value
        return req.get_response(self.app)

    def admin(self, method, path, body=None, **kwargs):
        kwargs.setdefault('user', 'admin')
        kwargs.setdefault('roles', ())
        return self.request(method, path, body, **kwargs)

    def service(self, method, path, body=None, **kwargs):
        kwargs.setdefault('user', 'cinder')
        kwargs.setdefault('project', 'service')
        kwargs.setdefault('roles', SERVICE_ROLES)
        kwargs.setdefault('version', LATEST)
        return self.request(method, path, body, **kwargs)

    def assertFault(self, resp, code: int, name: str,
                    message_part: str | None = None) -> str:
        """The response is a Nova fault ``{name: {code, message}}``."""
        self.assertEqual(code, resp.status_int, resp.body)
        body = resp.json_body
        self.assertEqual([name], list(body))
        self.assertEqual(code, body[name]['code'])
        message = body[name]['message']
        self.assertIsInstance(message, str)
        self.assertNotIn('Traceback', message)
        if message_part is not None:
            self.assertIn(message_part, message)
        return message
