"""The versions documents: ``GET /`` and ``GET /v2.1``."""

from nova_volmig.api import api_version_request
from nova_volmig.api.openstack import common
from nova_volmig.api import wsgi

_V21 = {
    'id': 'v2.1',
    'status': 'CURRENT',
    'version': api_version_request.MAX_API_VERSION,
    'min_version': api_version_request.MIN_API_VERSION,
    'updated': '2013-07-23T11:33:21Z',
}

_MEDIA_TYPES = [{'base': 'application/json',
                 'type': 'application/vnd.openstack.compute+json;'
                         'version=2.1'}]


def _self_link(req) -> dict:
    return {'rel': 'self',
            'href': '%s/%s/' % (common.root_url(req), common.API_PREFIX)}


def versions_document(req) -> dict:
    """``{"versions": [...]}``: every major version served."""
    return {'versions': [dict(_V21, links=[_self_link(req)])]}


def version_document(req) -> dict:
    """``{"version": {...}}``: the v2.1 API and its microversion range."""
    return {'version': dict(
        _V21,
        links=[_self_link(req),
               {'rel': 'describedby', 'type': 'text/html',
                'href': 'https://docs.openstack.org/'}],
        **{'media-types': _MEDIA_TYPES})}


class VersionsController(wsgi.Controller):
    """``GET /v2.1/[{project_id}]`` inside the authenticated router."""

    def show(self, req):
        return version_document(req)
