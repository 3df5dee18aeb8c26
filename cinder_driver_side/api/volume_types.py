"""/types and their extra specs; /scheduler-stats/get_pools."""

from __future__ import annotations

from oslo_utils import strutils

from cinder_driver_side.api import base
from cinder_driver_side.api import schemas
from cinder_driver_side.api import validation
from cinder_driver_side.api import views
from cinder_driver_side import policies


class TypesController(base.Controller):

    def _view(self, req, vtype):
        return views.volume_type(
            vtype, self.db.extra_specs_get(req.context, vtype.id))

    def index(self, req, **_kw):
        return 200, {'volume_types': [
            self._view(req, t) for t in self.db.volume_type_get_all(
                req.context)]}

    def show(self, req, id, **_kw):
        if id == 'default':
            vtype = self.manager.get_type(req.context, None)
        else:
            vtype = self.manager.get_type(req.context, id)
        return 200, {'volume_type': self._view(req, vtype)}

    def create(self, req, **_kw):
        self.authorize(req, policies.TYPES_MANAGE)
        body = req.json_body()
        validation.validate(body, schemas.type_create)
        spec = body['volume_type']
        vtype = self.db.volume_type_create(
            req.context, spec['name'], spec.get('extra_specs') or {},
            description=spec.get('description'),
            is_public=strutils.bool_from_string(
                spec.get('os-volume-type-access:is_public', True)))
        return 200, {'volume_type': self._view(req, vtype)}

    def delete(self, req, id, **_kw):
        self.authorize(req, policies.TYPES_MANAGE)
        self.db.volume_type_destroy(req.context, id)
        return 202, None

    def extra_specs_index(self, req, type_id, **_kw):
        self.db.volume_type_get(req.context, type_id)
        return 200, {'extra_specs': self.db.extra_specs_get(req.context,
                                                            type_id)}

    def extra_specs_create(self, req, type_id, **_kw):
        self.authorize(req, policies.TYPES_MANAGE)
        body = req.json_body()
        validation.validate(body, schemas.extra_specs)
        self.db.volume_type_get(req.context, type_id)
        self.db.extra_specs_update(req.context, type_id,
                                   body['extra_specs'])
        return 200, {'extra_specs': body['extra_specs']}

    def extra_specs_delete(self, req, type_id, key, **_kw):
        self.authorize(req, policies.TYPES_MANAGE)
        self.db.extra_spec_delete(req.context, type_id, key)
        return 202, None

    def pools(self, req, **_kw):
        self.authorize(req, policies.POOLS)
        pools = self.manager.pool_stats()
        if not strutils.bool_from_string(req.params.get('detail')):
            pools = [{'name': p['name']} for p in pools]
        return 200, {'pools': pools}
