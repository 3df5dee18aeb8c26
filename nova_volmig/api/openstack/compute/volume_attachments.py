"""/servers/{server_id}/os-volume_attachments, and legacy swap (PUT)."""

from __future__ import annotations

from oslo_utils import strutils

from nova_volmig.api.openstack.compute.views import volume_attachments \
    as views
from nova_volmig.api.schemas import volume_attachments as schema
from nova_volmig.api import validation
from nova_volmig.api import wsgi
from nova_volmig import exception
from nova_volmig.i18n import _
from nova_volmig.policies import volume_attachments as va_policies
from nova_volmig import policy

POLICY_ROOT = va_policies.POLICY_ROOT


class VolumeAttachmentController(wsgi.Controller):

    def __init__(self, compute_api):
        super().__init__()
        self.compute_api = compute_api

    def _instance(self, req, server_id: str, rule: str):
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, POLICY_ROOT % rule,
                         {'project_id': instance.project_id})
        return instance

    def index(self, req, server_id):
        instance = self._instance(req, server_id, 'index')
        bdms = self.compute_api.get_attachments(req.context, instance)
        return {'volumeAttachments': [views.attachment(req, bdm)
                                      for bdm in bdms]}

    def show(self, req, server_id, id):
        instance = self._instance(req, server_id, 'show')
        bdm = self.compute_api.get_attachment(req.context, instance, id)
        return {'volumeAttachment': views.attachment(req, bdm)}

    @validation.schema(schema.create, '2.1', '2.48')
    @validation.schema(schema.create_v249, '2.49', '2.78')
    @validation.schema(schema.create_v279, '2.79')
    def create(self, req, server_id, body):
        instance = self._instance(req, server_id, 'create')
        attachment = body['volumeAttachment']
        # Accepted for client compatibility; refused when they would ask
        # for something this deployment does not do.
        if attachment.get('tag') is not None:
            raise exception.InvalidInput(
                reason=_('tagged volume attachments are not supported.'))
        if strutils.bool_from_string(
                attachment.get('delete_on_termination', False)):
            raise exception.InvalidInput(
                reason=_('delete_on_termination=true is not supported: '
                         'volumes outlive their servers here.'))
        bdm = self.compute_api.attach_volume(
            req.context, instance, attachment['volumeId'],
            device=attachment.get('device'))
        return {'volumeAttachment': views.attachment(req, bdm)}

    @wsgi.response(202)
    @validation.schema(schema.update)
    def update(self, req, server_id, id, body):
        """Legacy swap: copy the attached volume ``id`` onto volumeId."""
        instance = self._instance(req, server_id, 'swap')
        new_volume_id = body['volumeAttachment']['volumeId']
        if new_volume_id == id:
            raise exception.InvalidInput(
                reason=_('volume %s cannot be swapped for itself.') % id)
        self.compute_api.swap_volume(req.context, instance, id,
                                     new_volume_id)

    @wsgi.response(202)
    def delete(self, req, server_id, id):
        instance = self._instance(req, server_id, 'delete')
        self.compute_api.detach_volume(req.context, instance, id)
