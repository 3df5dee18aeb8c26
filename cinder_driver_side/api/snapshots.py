"""/snapshots: create, list, show and delete volume snapshots."""

from __future__ import annotations

from oslo_utils import strutils

from cinder_driver_side.api import base
from cinder_driver_side.api import schemas
from cinder_driver_side.api import validation
from cinder_driver_side.api import views
from cinder_driver_side.volume import snapshots


class SnapshotsController(base.Controller):

    def _get(self, req, snapshot_id):
        snapshot = self.db.snapshot_get(req.context, snapshot_id)
        self.authorize(req, 'volume:get_snapshot',
                       {'project_id': snapshot.project_id})
        return snapshot

    def _list(self, req):
        self.authorize(req, 'volume:get_all_snapshots')
        all_projects = strutils.bool_from_string(
            req.params.get('all_tenants', req.params.get('all_projects')))
        return self.db.snapshot_get_all(
            req.context, volume_id=req.params.get('volume_id'),
            all_projects=all_projects)

    def index(self, req, **_kw):
        return 200, {'snapshots': [views.snapshot(s, detail=False)
                                   for s in self._list(req)]}

    def detail(self, req, **_kw):
        return 200, {'snapshots': [views.snapshot(s)
                                   for s in self._list(req)]}

    def show(self, req, id, **_kw):
        return 200, {'snapshot': views.snapshot(self._get(req, id))}

    def create(self, req, **_kw):
        body = req.json_body()
        validation.validate(body, schemas.snapshot_create)
        spec = body['snapshot']
        volume = self.db.volume_get(req.context, spec['volume_id'])
        self.authorize(req, 'volume:create_snapshot',
                       {'project_id': volume.project_id})
        snapshot = snapshots.create(
            self.manager, req.context, volume,
            name=spec.get('name', spec.get('display_name')),
            description=spec.get('description',
                                 spec.get('display_description')),
            force=strutils.bool_from_string(spec.get('force', False),
                                            strict=True))
        return 202, {'snapshot': views.snapshot(snapshot)}

    def delete(self, req, id, **_kw):
        snapshot = self._get(req, id)
        self.authorize(req, 'volume:delete_snapshot',
                       {'project_id': snapshot.project_id})
        snapshots.delete(self.manager, req.context, snapshot)
        return 202, None
