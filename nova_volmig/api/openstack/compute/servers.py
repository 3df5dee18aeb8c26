"""/servers: create, list, show, delete, os-start and os-stop."""

from __future__ import annotations

from oslo_utils import strutils

from nova_volmig.api.openstack import common
from nova_volmig.api.openstack.compute.views import servers as views
from nova_volmig.api.schemas import servers as schema
from nova_volmig.api import validation
from nova_volmig.api import wsgi
from nova_volmig import exception
from nova_volmig.policies import servers as server_policies
from nova_volmig import policy

SERVERS = server_policies.SERVERS


class ServersController(wsgi.Controller):

    def __init__(self, compute_api, flavor_api):
        super().__init__()
        self.compute_api = compute_api
        self.flavor_api = flavor_api

    # Lookups

    def _get_instance(self, req, server_id: str):
        """The instance, 404 for another project's (non-admin)."""
        return self.compute_api.get(req.context, server_id)

    def _flavor_lookup(self, flavor_ref: str) -> dict | None:
        try:
            return self.flavor_api.get(flavor_ref)
        except exception.NotFound:
            return None

    def _detail_view(self, req, instance) -> dict:
        bdms = self.compute_api.get_attachments(req.context, instance)
        return views.detail(req, instance, bdms, self._flavor_lookup)

    def _list(self, req, is_detail: bool) -> list:
        context = req.context
        action = 'detail' if is_detail else 'index'
        policy.authorize(context, SERVERS % action)
        params = validation.single_valued_params(req)
        all_tenants = False
        if 'all_tenants' in params:
            # A bare "?all_tenants" counts as true, as upstream.
            all_tenants = strutils.bool_from_string(
                params['all_tenants'] or 'true', strict=True)
        project_id = None
        if all_tenants:
            policy.authorize(context, SERVERS % (action + ':get_all_tenants'))
            project_id = params.get('project_id') or params.get('tenant_id')
        return self.compute_api.get_all(context, all_tenants=all_tenants,
                                        project_id=project_id)

    # Routes

    @validation.query_schema(schema.index_query)
    def index(self, req):
        return {'servers': [views.basic(req, instance)
                            for instance in self._list(req, False)]}

    @validation.query_schema(schema.index_query)
    def detail(self, req):
        return {'servers': [self._detail_view(req, instance)
                            for instance in self._list(req, True)]}

    def show(self, req, id):
        instance = self._get_instance(req, id)
        policy.authorize(req.context, SERVERS % 'show',
                         {'project_id': instance.project_id})
        return {'server': self._detail_view(req, instance)}

    @wsgi.response(202)
    @validation.schema(schema.create)
    def create(self, req, body):
        context = req.context
        policy.authorize(context, SERVERS % 'create')
        server = body['server']
        instance = self.compute_api.create(
            context, name=server['name'],
            flavor_ref=server.get('flavorRef'),
            image_ref=server.get('imageRef') or None,
            availability_zone=server.get('availability_zone'))
        return wsgi.ResponseObject(
            views.create_response(req, instance),
            headers={'Location': common.self_url(req, 'servers',
                                                 instance.uuid)})

    @wsgi.response(204)
    def delete(self, req, id):
        instance = self._get_instance(req, id)
        policy.authorize(req.context, SERVERS % 'delete',
                         {'project_id': instance.project_id})
        self.compute_api.delete(req.context, instance)

    @wsgi.response(202)
    @wsgi.action('os-start')
    @validation.schema(schema.start)
    def _start(self, req, id, body):
        instance = self._get_instance(req, id)
        policy.authorize(req.context, SERVERS % 'start',
                         {'project_id': instance.project_id})
        self.compute_api.start(req.context, instance)

    @wsgi.response(202)
    @wsgi.action('os-stop')
    @validation.schema(schema.stop)
    def _stop(self, req, id, body):
        instance = self._get_instance(req, id)
        policy.authorize(req.context, SERVERS % 'stop',
                         {'project_id': instance.project_id})
        self.compute_api.stop(req.context, instance)
