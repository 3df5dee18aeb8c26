"""The v2.1 router: Nova's ``ROUTE_LIST`` over a Routes mapper.

Every route also answers under a ``/{project_id}`` prefix, as older
clients whose catalog endpoint ends in the project id send it. As
upstream, a project id in a URL is hex digits and dashes, which keeps it
apart from the collection names.
"""

from __future__ import annotations

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


def route_list(compute_api, flavor_api) -> list[tuple[str, dict]]:
    """(path, {method: (resource, action)}) in matching order."""
    server = wsgi.Resource(servers.ServersController(compute_api,
                                                     flavor_api))
    attachments = wsgi.Resource(
        volume_attachments.VolumeAttachmentController(compute_api))
    actions = wsgi.Resource(
        instance_actions.InstanceActionsController(compute_api))
    flavor = wsgi.Resource(flavors.FlavorsController(flavor_api))
    migrations = wsgi.Resource(
        volume_migrations.VolumeMigrationsController(compute_api))
    version = wsgi.Resource(versions.VersionsController())
    return [
        ('', {'GET': (version, 'show')}),
        ('/', {'GET': (version, 'show')}),
        ('/servers', {'GET': (server, 'index'),
                      'POST': (server, 'create')}),
        ('/servers/detail', {'GET': (server, 'detail')}),
        ('/servers/{id}', {'GET': (server, 'show'),
                           'DELETE': (server, 'delete')}),
        ('/servers/{id}/action', {'POST': (server, 'action')}),
        ('/servers/{server_id}/os-volume_attachments',
         {'GET': (attachments, 'index'), 'POST': (attachments, 'create')}),
        ('/servers/{server_id}/os-volume_attachments/{id}',
         {'GET': (attachments, 'show'), 'PUT': (attachments, 'update'),
          'DELETE': (attachments, 'delete')}),
        ('/servers/{server_id}/os-instance-actions',
         {'GET': (actions, 'index')}),
        ('/servers/{server_id}/os-instance-actions/{id}',
         {'GET': (actions, 'show')}),
        ('/flavors', {'GET': (flavor, 'index')}),
        ('/flavors/detail', {'GET': (flavor, 'detail')}),
        ('/flavors/{id}', {'GET': (flavor, 'show')}),
        ('/os-volume-migrations', {'GET': (migrations, 'index'),
                                   'POST': (migrations, 'create')}),
        ('/os-volume-migrations/{id}', {'GET': (migrations, 'show')}),
        ('/os-volume-migrations/{id}/action',
         {'POST': (migrations, 'action')}),
    ]


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
