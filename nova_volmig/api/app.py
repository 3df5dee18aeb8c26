"""The compute API WSGI application (no paste: the pipeline is code).

request id -> last resort (UTF-8 URLs, JSON 500s) -> fault wrapper ->
body size -> versions and OpenAPI documents, or
/v2.1/... -> auth (``[api] auth_strategy``) -> router -> resources.
"""

from __future__ import annotations

from oslo_config import cfg
from oslo_log import log as logging
import webob.dec

from nova_volmig.api import auth
from nova_volmig.api import compute_req_id
from nova_volmig.api import last_resort
from nova_volmig.api import openapi
from nova_volmig.api.openstack import common
from nova_volmig.api.openstack.compute import routes
from nova_volmig.api.openstack.compute import versions
from nova_volmig.api import sizelimit
from nova_volmig.api import wsgi
from nova_volmig.i18n import _
from nova_volmig import policy

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class RootDispatcher:
    """Serve the versions and OpenAPI documents; /v2.1/... to the API."""

    def __init__(self, api_application):
        self.api_application = api_application

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        path = req.path_info
        if path in ('', '/'):
            return self._document(req, versions.versions_document)
        prefix = '/' + common.API_PREFIX
        if path in (prefix, prefix + '/'):
            if path == prefix:
                req.script_name += prefix
                req.path_info = ''
            else:
                req.path_info_pop()
            return self._document(req, versions.version_document)
        if path == prefix + openapi.DOCUMENT_PATH:
            # Public, as the versions documents: it describes, grants none.
            return self._document(req, lambda _req: openapi.document())
        if path.startswith(prefix + '/'):
            req.path_info_pop()
            return self.api_application
        return wsgi.fault_response(404, _('The resource could not be '
                                          'found.'))

    @staticmethod
    def _document(req, build):
        if req.method not in ('GET', 'HEAD'):
            return wsgi.fault_response(
                405, _('The method %s is not allowed for this resource.')
                % req.method[:16], headers={'Allow': 'GET, HEAD'})
        resp = webob.Response(content_type='application/json',
                              charset='UTF-8')
        resp.json_body = build(req)
        return resp


def _default_compute_api():
    from nova_volmig.compute import api as compute_api

    return compute_api.API()


def _default_flavor_api():
    from nova_volmig.compute import flavors

    return flavors


def build_app(compute_api=None, *, flavor_api=None, conf=None):
    """The compute API WSGI app, its pipeline per ``[api] auth_strategy``.

    :param compute_api: a ``nova_volmig.compute.api.API``; one is made
        when None.
    :param flavor_api: what serves flavors (``get_all()``, ``get(id)``);
        ``nova_volmig.compute.flavors`` when None.
    """
    conf = conf or CONF
    policy.init(conf)
    router = routes.APIRouter(compute_api or _default_compute_api(),
                              flavor_api or _default_flavor_api())
    strategy = conf.api.auth_strategy
    LOG.info('Compute API pipeline with auth_strategy %s', strategy)
    app = RootDispatcher(auth.PIPELINES[strategy](router, conf))
    app = sizelimit.RequestBodySizeLimiter(app)
    app = wsgi.FaultWrapper(app)
    app = last_resort.LastResort(app)
    return compute_req_id.ComputeReqIdMiddleware(app)
