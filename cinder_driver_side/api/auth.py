"""Authentication middlewares: noauth2 and keystone, into a context."""

from __future__ import annotations

import webob.dec

from cinder_driver_side.api import wsgi
from cinder_driver_side import context as cinder_context


def _roles(header: str | None) -> list[str]:
    return [r.strip().lower() for r in (header or '').split(',')
            if r.strip()]


class NoAuth2:
    """noauth2: ``X-Auth-Token: <user>:<project>``, roles from X-Roles.

    The user ``admin`` always has the admin role. Loopback tests only.
    """

    def __init__(self, app):
        self.app = app

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        token = req.headers.get('X-Auth-Token')
        if not token:
            return wsgi.fault(401, 'Authentication required (X-Auth-Token '
                                   '"<user>:<project>")')
        user, _, project = token.partition(':')
        project = project or user
        roles = _roles(req.headers.get('X-Roles'))
        if user == 'admin' and 'admin' not in roles:
            roles.append('admin')
        req.environ['cinder.context'] = cinder_context.RequestContext(
            user_id=user, project_id=project, roles=roles,
            request_id=req.headers.get('X-OpenStack-Request-ID'),
            auth_token=token)
        return req.get_response(self.app)


class KeystoneContext:
    """Builds the context from keystonemiddleware's headers."""

    def __init__(self, app):
        self.app = app

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        if req.headers.get('X-Identity-Status', 'Confirmed') != 'Confirmed':
            return wsgi.fault(401, 'Authentication required')
        req.environ['cinder.context'] = cinder_context.RequestContext(
            user_id=req.headers.get('X-User-Id'),
            project_id=req.headers.get('X-Project-Id'),
            roles=_roles(req.headers.get('X-Roles')),
            auth_token=req.headers.get('X-Auth-Token'))
        return req.get_response(self.app)


def pipeline(app, conf):
    """Wrap ``app`` according to ``[DEFAULT] auth_strategy``."""
    if conf.auth_strategy == 'keystone':
        from keystonemiddleware import auth_token
        return auth_token.AuthProtocol(KeystoneContext(app),
                                       {'oslo_config_config': conf})
    return NoAuth2(app)
