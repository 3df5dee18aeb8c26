"""The v2.1 router: Nova's ``ROUTE_LIST`` over a Routes mapper.

Every route also answers under a ``/{project_id}`` prefix, as older
clients whose catalog endpoint ends in the project id send it. As
upstream, a project id in a URL is hex digits and dashes, which keeps it
apart from the collection names.
"""

from __future__ import annotations

from typing import Callable

import routes
import routes.middleware
import webob.dec

from nova_volmig.api.openstack.compute import flavors
from nova_volmig.api.openstack.compute import instance_actions
from nova_volmig.api.openstack.compute import servers
from nova_volmig.api.openstack.compute import versions
from nova_volmig.api.openstack.compute import volume_attachments
from nova_volmig.api.openstack.compute import volume_migrations
from nova_volmig.api import wsgi
from nova_volmig.i18n import _

PROJECT_ID_REGEX = r'[0-9a-f\-]+'


# Which controller serves a route, and how it is built from the APIs.
CONTROLLERS: dict[str, tuple[type, Callable]] = {
    'servers': (servers.ServersController,
                lambda compute, flavor: (compute, flavor)),
    'volume_attachments': (volume_attachments.VolumeAttachmentController,
                           lambda compute, flavor: (compute,)),
    'instance_actions': (instance_actions.InstanceActionsController,
                         lambda compute, flavor: (compute,)),
    'flavors': (flavors.FlavorsController, lambda compute, flavor: (flavor,)),
    'volume_migrations': (volume_migrations.VolumeMigrationsController,
                          lambda compute, flavor: (compute,)),
    'versions': (versions.VersionsController, lambda compute, flavor: ()),
}

# Nova's ROUTE_LIST: (path, {method: (controller, action)}) in matching
# order. The OpenAPI document (nova_volmig.api.openapi) is built from it.
ROUTE_LIST: tuple[tuple[str, dict[str, tuple[str, str]]], ...] = (
    ('', {'GET': ('versions', 'show')}),
    ('/', {'GET': ('versions', 'show')}),
    ('/servers', {'GET': ('servers', 'index'),
                  'POST': ('servers', 'create')}),
    ('/servers/detail', {'GET': ('servers', 'detail')}),
    ('/servers/{id}', {'GET': ('servers', 'show'),
                       'DELETE': ('servers', 'delete')}),
    ('/servers/{id}/action', {'POST': ('servers', 'action')}),
    ('/servers/{server_id}/os-volume_attachments',
     {'GET': ('volume_attachments', 'index'),
      'POST': ('volume_attachments', 'create')}),
    ('/servers/{server_id}/os-volume_attachments/{id}',
     {'GET': ('volume_attachments', 'show'),
      'PUT': ('volume_attachments', 'update'),
      'DELETE': ('volume_attachments', 'delete')}),
    ('/servers/{server_id}/os-instance-actions',
     {'GET': ('instance_actions', 'index')}),
    ('/servers/{server_id}/os-instance-actions/{id}',
     {'GET': ('instance_actions', 'show')}),
    ('/flavors', {'GET': ('flavors', 'index')}),
    ('/flavors/detail', {'GET': ('flavors', 'detail')}),
    ('/flavors/{id}', {'GET': ('flavors', 'show')}),
    ('/os-volume-migrations', {'GET': ('volume_migrations', 'index'),
                               'POST': ('volume_migrations', 'create')}),
    ('/os-volume-migrations/{id}', {'GET': ('volume_migrations', 'show')}),
    ('/os-volume-migrations/{id}/action',
     {'POST': ('volume_migrations', 'action')}),
)


def route_list(compute_api, flavor_api) -> list[tuple[str, dict]]:
    """(path, {method: (resource, action)}) in matching order."""
    resources = {
        name: wsgi.Resource(cls(*args(compute_api, flavor_api)))
        for name, (cls, args) in CONTROLLERS.items()}
    return [(path, {method: (resources[name], action)
                    for method, (name, action) in methods.items()})
            for path, methods in ROUTE_LIST]


class MethodNotAllowed:
    """Target of a known path asked with a method it does not serve."""

    def __init__(self, methods: list[str]):
        self.allow = ', '.join(sorted(methods))

    @webob.dec.wsgify
    def __call__(self, req):
        return wsgi.fault_response(
            405, _('The method %s is not allowed for this resource.')
            % req.method[:16], headers={'Allow': self.allow})


class APIRouter:
    """WSGI app: match the path (after /v2.1) and call its resource."""

    def __init__(self, compute_api, flavor_api):
        self.map = routes.Mapper()
        for path, methods in route_list(compute_api, flavor_api):
            for prefix, requirements in (
                    ('/{project_id}', {'project_id': PROJECT_ID_REGEX}),
                    ('', {})):
                self._connect(prefix + path, methods, requirements)
        self._router = routes.middleware.RoutesMiddleware(
            self._dispatch, self.map, use_method_override=False)

    def _connect(self, path: str, methods: dict, requirements: dict):
        for method, (resource, action) in methods.items():
            allowed = [method] + (['HEAD'] if method == 'GET' else [])
            self.map.connect(path, controller=resource, action=action,
                             requirements=requirements,
                             conditions={'method': allowed})
        self.map.connect(path, controller=MethodNotAllowed(list(methods)),
                         action='not_allowed', requirements=requirements)

    def __call__(self, environ, start_response):
        return self._router(environ, start_response)

    @staticmethod
    @webob.dec.wsgify
    def _dispatch(req):
        match = req.environ['wsgiorg.routing_args'][1]
        if not match:
            return wsgi.fault_response(
                404, _('The resource could not be found.'))
        return match['controller']
