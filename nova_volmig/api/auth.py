"""Authentication middlewares: they build the request context.

* ``noauth2`` (loopback test deployments): ``X-Auth-Token: <user>:<project>``
  and roles from ``X-Roles``; the user ``admin`` always has role ``admin``.
* ``keystone``: keystonemiddleware's auth_token validates the token and
  sets the ``X-*`` identity headers that :class:`KeystoneContext` reads.

Both store a ``nova_volmig.context.RequestContext`` in
``environ['nova.context']``.
"""

from __future__ import annotations

import re

from oslo_log import log as logging
import webob.dec

from nova_volmig.api import compute_req_id
from nova_volmig.api import wsgi
from nova_volmig import context
from nova_volmig.i18n import _

LOG = logging.getLogger(__name__)

CONTEXT_KEY = wsgi.CONTEXT_KEY

# A user or project name of a noauth2 token.
_NAME_RE = re.compile(r'^[^\s:,\x00-\x1f\x7f]{1,255}$')


def _unauthorized(message: str):
    return wsgi.fault_response(401, message)


def parse_roles(value: str | None) -> list[str]:
    return [role.strip() for role in (value or '').split(',')
            if role.strip()]


class NoAuthMiddleware:
    """``X-Auth-Token: <user>:<project>``; missing or garbled: 401."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        token = req.headers.get('X-Auth-Token')
        if not token:
            return _unauthorized(
                _('Authentication required: send "X-Auth-Token: '
                  '<user>:<project>".'))
        user_id, sep, project_id = token.partition(':')
        if not (sep and _NAME_RE.match(user_id)
                and _NAME_RE.match(project_id)):
            return _unauthorized(
                _('Malformed X-Auth-Token: expected "<user>:<project>", '
                  'two names without spaces, colons or commas.'))
        roles = parse_roles(req.headers.get('X-Roles'))
        if user_id == 'admin' and 'admin' not in roles:
            roles.append('admin')
        req.environ[CONTEXT_KEY] = context.RequestContext(
            user_id=user_id, project_id=project_id, roles=roles,
            request_id=req.environ.get(compute_req_id.ENV_REQUEST_ID),
            global_request_id=req.environ.get(
                compute_req_id.ENV_GLOBAL_REQUEST_ID))
        return self.application


class KeystoneContext:
    """Build the context from keystonemiddleware auth_token's headers."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        if req.headers.get('X-Identity-Status', 'Confirmed') != 'Confirmed':
            return _unauthorized(_('Authentication required.'))
        user_id = req.headers.get('X-User-Id', req.headers.get('X-User'))
        project_id = req.headers.get('X-Project-Id',
                                     req.headers.get('X-Tenant-Id'))
        if not user_id or not project_id:
            LOG.debug('Neither X_USER_ID nor X_PROJECT_ID found in request')
            return _unauthorized(
                _('Authentication required: a project-scoped token is '
                  'needed.'))
        req.environ[CONTEXT_KEY] = context.RequestContext.from_environ(
            req.environ, user_id=user_id, project_id=project_id,
            roles=parse_roles(req.headers.get('X-Roles')))
        return self.application


def keystone_pipeline(application, conf):
    """auth_token, then the context builder, then ``application``."""
    from keystonemiddleware import auth_token

    return auth_token.AuthProtocol(KeystoneContext(application),
                                   {'oslo_config_config': conf})


def noauth2_pipeline(application, conf):
    return NoAuthMiddleware(application)


PIPELINES = {'noauth2': noauth2_pipeline, 'keystone': keystone_pipeline}
