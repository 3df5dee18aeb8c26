"""The WSGI application: versions, auth, microversions, routes."""

from __future__ import annotations

from oslo_config import cfg
import routes
import webob.dec

from cinder_driver_side.api import attachments
from cinder_driver_side.api import auth
from cinder_driver_side.api import microversions
from cinder_driver_side.api import openapi
from cinder_driver_side.api import route_table
from cinder_driver_side.api import snapshots
from cinder_driver_side.api import versions
from cinder_driver_side.api import volume_types
from cinder_driver_side.api import volumes
from cinder_driver_side.api import wsgi
from cinder_driver_side import exception
from cinder_driver_side import policy
from cinder_driver_side.volume import manager as manager_mod

MAX_BODY = 1024 * 1024
# Both /v3/{project_id}/... and, as since 3.67, /v3/... without it.
_COLLECTIONS = ('volumes', 'types', 'attachments', 'scheduler-stats',
                'snapshots')
_PROJECT = r'(?!(%s)(/|$))[^/]+' % '|'.join(_COLLECTIONS)


class APIRouter:
    """The volume API as one WSGI callable."""

    def __init__(self, conf: cfg.ConfigOpts,
                 manager: manager_mod.VolumeManager,
                 enforcer: policy.Enforcer | None = None):
        self.conf = conf
        enforcer = enforcer or policy.Enforcer(conf)
        self.mapper = routes.Mapper()
        self._controllers = {
            'volumes': volumes.VolumesController(conf, manager, enforcer),
            'attachments': attachments.AttachmentsController(
                conf, manager, enforcer),
            'types': volume_types.TypesController(conf, manager, enforcer),
            'snapshots': snapshots.SnapshotsController(conf, manager,
                                                       enforcer),
        }
        for route in route_table.ROUTES:
            for prefix in ('/v3/{project_id}', '/v3'):
                self.mapper.connect(
                    prefix + route.path, controller=route.controller,
                    action=route.action,
                    conditions={'method': [route.method]},
                    requirements={'project_id': _PROJECT})
        self._paths = routes.Mapper()
        for route in route_table.ROUTES:
            for prefix in ('/v3/{project_id}', '/v3'):
                self._paths.connect(prefix + route.path,
                                    requirements={'project_id': _PROJECT})
        self._authenticated = auth.pipeline(self._route, conf)

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        path = req.path_info.rstrip('/')
        if path in ('', '/v3'):
            if req.method not in ('GET', 'HEAD'):
                return wsgi.fault(405, 'Method not allowed')
            base = (self.conf.public_endpoint or req.host_url).rstrip('/')
            return wsgi.json_response(versions.versions(base))
        if path == '/v3/openapi.json':
            # Public, as the versions document.
            if req.method not in ('GET', 'HEAD'):
                return wsgi.fault(405, 'Method not allowed')
            return wsgi.json_response(openapi.document())
        if req.content_length and req.content_length > MAX_BODY:
            return wsgi.fault(413, 'Request body is larger than %d bytes'
                              % MAX_BODY)
        try:
            req.environ['cinder.api_version'] = \
                microversions.from_headers(req.headers)
        except exception.CinderException as e:
            return wsgi.fault(e.code, e.format_message())
        return req.get_response(self._authenticated)

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def _route(self, req):
        version = req.api_version
        result = self.mapper.routematch(environ=req.environ)
        if not result:
            if self._paths.routematch(req.path_info):
                return wsgi.fault(405, 'Method %s not allowed on %s'
                                  % (req.method, req.path_info), version)
            return wsgi.fault(404, 'The resource could not be found.',
                              version)
        match, _route = result
        kwargs = {k: v for k, v in match.items()
                  if k not in ('controller', 'action')}
        handler = getattr(self._controllers[match['controller']],
                          match['action'])
        return wsgi.dispatch(handler, req, **kwargs)
