"""keystoneauth Adapters for the compute and volume REST APIs.

Every client of this repository (Nova's Cinder client, cinder-volmig's
Nova client, the ``volmig`` CLI, the bench and the test fixtures) talks
HTTP through a :class:`keystoneauth1.adapter.Adapter` built here: the
adapter sets the microversion headers (``default_microversion``: compute
also gets the legacy ``X-OpenStack-Nova-API-Version``), retries requests
that never reached the server (``connect_retries``, exponential back-off)
and joins paths to the endpoint (``endpoint_override``). The session
carries the authentication: a keystoneauth plugin loaded from a service's
conf group, or :func:`token_session`'s fixed token for noauth2.

Adapters are built with ``raise_exc=False``: each client maps the HTTP
status to its own exceptions (Nova's 502 for a Cinder failure, the CLI's
message, the test's assertion).
"""

from __future__ import annotations

from typing import Mapping

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg

COMPUTE = 'compute'
VOLUME = 'volume'
#: The compute API microversion cinder-volmig, the bench and tests speak.
COMPUTE_MICROVERSION = '2.105'
#: The volume API microversion of the CLI, the bench and tests.
VOLUME_MICROVERSION = '3.72'
#: The noauth2 token and roles of an admin (bench and tests).
ADMIN_TOKEN = 'admin:admin'
ADMIN_ROLES = 'admin'


def token_headers(token: str, roles: str | None = None) -> dict[str, str]:
    """``X-Auth-Token`` (and noauth2's ``X-Roles``) for a fixed token."""
    headers = {'X-Auth-Token': token}
    if roles:
        headers['X-Roles'] = roles
    return headers


def token_session(token: str = ADMIN_TOKEN, roles: str | None = ADMIN_ROLES,
                  timeout: float | None = None) -> ks_session.Session:
    """A session that sends one fixed token and no auth plugin.

    ``token`` is noauth2's ``<user>:<project>`` (with ``roles`` as
    ``X-Roles``) or an already issued keystone token; both go out as
    ``additional_headers`` of :class:`keystoneauth1.session.Session`.
    """
    return ks_session.Session(additional_headers=token_headers(token, roles),
                              timeout=timeout)


def adapter(session: ks_session.Session, service_type: str, endpoint: str,
            microversion: str, *, connect_retries: int = 0,
            headers: Mapping[str, str] | None = None
            ) -> ks_adapter.Adapter:
    """An Adapter on ``endpoint`` speaking ``microversion``.

    :param endpoint: the API root requests are relative to (e.g.
        ``http://host:8774/v2.1``, or a volume endpoint with its project).
    :param connect_retries: retries of a request that failed to connect.
    :param headers: sent with every request unless the call sets them.
    """
    return ks_adapter.Adapter(
        session, service_type=service_type,
        endpoint_override=endpoint.rstrip('/'),
        default_microversion=microversion,
        connect_retries=connect_retries,
        additional_headers={'Accept': 'application/json', **(headers or {})},
        raise_exc=False)


def compute_adapter(session: ks_session.Session, endpoint: str,
                    microversion: str = COMPUTE_MICROVERSION,
                    **kwargs) -> ks_adapter.Adapter:
    """:func:`adapter` of Nova's compute API (``compute <microversion>``)."""
    return adapter(session, COMPUTE, endpoint, microversion, **kwargs)


def volume_adapter(session: ks_session.Session, endpoint: str,
                   microversion: str = VOLUME_MICROVERSION,
                   **kwargs) -> ks_adapter.Adapter:
    """:func:`adapter` of Cinder's volume v3 API (``volume <version>``)."""
    return adapter(session, VOLUME, endpoint, microversion, **kwargs)


def conf_session(conf: cfg.ConfigOpts, group: str) -> ks_session.Session:
    """The session of a service's keystoneauth conf group.

    With ``auth_strategy = keystone`` the group's auth plugin (the
    service user) authenticates; with noauth2 the session has none, and
    the caller sends its token per request or as adapter headers.
    """
    auth = None
    if conf[group].auth_strategy == 'keystone':
        auth = ks_loading.load_auth_from_conf_options(conf, group)
    return ks_loading.load_session_from_conf_options(conf, group, auth=auth)
