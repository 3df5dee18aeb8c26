"""/attachments (microversion 3.27; os-complete 3.44)."""

from __future__ import annotations

from cinder_driver_side.api import base
from cinder_driver_side.api import microversions
from cinder_driver_side.api import schemas
from cinder_driver_side.api import validation
from cinder_driver_side.api import views
from cinder_driver_side import exception


def _require(req, version: str) -> None:
    if req.api_version < version:
        raise exception.VersionNotFoundForAPIMethod(
            version=str(req.api_version))


class AttachmentsController(base.Controller):

    def _list(self, req):
        params = validation.validate_query(req.params,
                                           schemas.attachment_index_query)
        return self.db.attachment_get_all(
            req.context, volume_id=params.get('volume_id'),
            instance_uuid=params.get('instance_id'))

    def index(self, req, **_kw):
        _require(req, microversions.ATTACHMENTS)
        rows = self._list(req)
        return 200, {'attachments': [
            {'id': a.id, 'status': a.attach_status,
             'instance': a.instance_uuid, 'volume_id': a.volume_id}
            for a in rows]}

    def detail(self, req, **_kw):
        _require(req, microversions.ATTACHMENTS)
        rows = self._list(req)
        return 200, {'attachments': [views.attachment(a) for a in rows]}

    def show(self, req, id, **_kw):
        _require(req, microversions.ATTACHMENTS)
        return 200, {'attachment': views.attachment(
            self.db.attachment_get(req.context, id))}

    def create(self, req, **_kw):
        _require(req, microversions.ATTACHMENTS)
        body = req.json_body()
        validation.validate(body, schemas.attachment_create)
        spec = body['attachment']
        volume = self.db.volume_get(req.context, spec['volume_uuid'])
        self.authorize(req, 'volume:attachment_create',
                       {'project_id': volume.project_id})
        attachment = self.manager.attachment_create(
            req.context, volume, spec.get('instance_uuid'),
            spec.get('connector'), spec.get('mode', 'rw'))
        return 200, {'attachment': views.attachment(attachment)}

    def update(self, req, id, **_kw):
        _require(req, microversions.ATTACHMENTS)
        body = req.json_body()
        validation.validate(body, schemas.attachment_update)
        attachment = self.db.attachment_get(req.context, id)
        self.authorize(req, 'volume:attachment_update',
                       {'project_id': attachment.project_id})
        attachment = self.manager.attachment_update(
            req.context, id, body['attachment']['connector'])
        return 200, {'attachment': views.attachment(attachment)}

    def delete(self, req, id, **_kw):
        _require(req, microversions.ATTACHMENTS)
        attachment = self.db.attachment_get(req.context, id)
        self.authorize(req, 'volume:attachment_delete',
                       {'project_id': attachment.project_id})
        self.manager.attachment_delete(req.context, id)
        return 200, {'attachments': []}

    def action(self, req, id, **_kw):
        _require(req, microversions.ATTACHMENT_COMPLETE)
        body = req.json_body()
        if 'os-complete' not in body:
            raise exception.InvalidInput(
                reason='unsupported attachment action %s' % list(body))
        attachment = self.db.attachment_get(req.context, id)
        self.authorize(req, 'volume:attachment_complete',
                       {'project_id': attachment.project_id})
        self.manager.attachment_complete(req.context, id)
        return 204, None
