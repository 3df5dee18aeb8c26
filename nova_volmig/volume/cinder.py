"""Client Nova uses to reach Cinder's volume v3 REST API.

A keystoneauth Adapter (:func:`volmig_common.clients.volume_adapter`) on
``[cinder] endpoint_override`` at microversion 3.44, retrying requests
that failed to connect ``[cinder] http_retries`` times. With ``[cinder]
auth_strategy = keystone`` the session carries the plugin configured in
``[cinder]`` (Nova's service user); with ``noauth2`` it sends the caller's
``<user>:<project>`` token and roles, as the Cinder companion's noauth
middleware expects.
"""

from __future__ import annotations

from typing import Any

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from oslo_config import cfg
from oslo_log import log as logging

from nova_volmig import exception
from nova_volmig.i18n import _
from volmig_common import clients

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Attachments API with os-complete (3.44); 3.48 shows shared_targets.
CINDER_MICROVERSION = '3.44'

# Cinder's answers that refuse the caller's request, and what Nova answers.
_REFUSALS: dict[int, type[exception.CinderAPIError]] = {
    400: exception.CinderBadRequest,
    403: exception.CinderForbidden,
    409: exception.CinderConflict,
}

#: Cinder's migration_status of a volume whose data it is moving by a
#: swap (upstream's check since nova bug 2112187). ``starting`` is not
#: one: Cinder only asks for the swap once it has set ``migrating``.
SWAP_SOURCE_STATUSES = ('migrating', 'completing')

_SESSION: ks_session.Session | None = None


def _session() -> ks_session.Session:
    global _SESSION
    if _SESSION is None:
        _SESSION = clients.conf_session(CONF, 'cinder')
    return _SESSION


def reset() -> None:
    """Forget the cached session (tests, config reload)."""
    global _SESSION
    _SESSION = None


def _adapter() -> ks_adapter.Adapter:
    """The volume API on the cached session, with today's ``[cinder]``."""
    return clients.volume_adapter(
        _session(), CONF.cinder.endpoint_override, CINDER_MICROVERSION,
        connect_retries=CONF.cinder.http_retries)


class API:
    """The Cinder calls Nova makes, each with the caller's context."""

    def _headers(self, context) -> dict[str, str]:
        headers = {'X-OpenStack-Request-ID': context.request_id}
        if CONF.cinder.auth_strategy == 'noauth2':
            headers['X-Auth-Token'] = '%s:%s' % (context.user_id,
                                                 context.project_id)
            headers['X-Roles'] = ','.join(context.roles)
        elif context.auth_token:
            headers['X-Auth-Token'] = context.auth_token
        return headers

    def _request(self, context, method: str, path: str,
                 body: dict | None = None, *,
                 not_found: type[exception.NotFound] | None = None,
                 **not_found_kwargs) -> dict[str, Any] | None:
        # Cinder's v3 paths start with the project.
        path = '/%s%s' % (context.project_id, path)
        url = CONF.cinder.endpoint_override.rstrip('/') + path
        try:
            resp = _adapter().request(
                path, method, json=body, headers=self._headers(context),
                timeout=CONF.cinder.http_timeout)
        except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout,
                ks_exc.DiscoveryFailure) as e:
            raise exception.CinderConnectionFailed(reason=str(e))
        if resp.status_code == 404 and not_found is not None:
            raise not_found(**not_found_kwargs)
        if resp.status_code >= 400:
            # A refusal keeps Cinder's status and message; anything else
            # (401, 406, 5xx...) is Nova's problem with Cinder: a 502.
            error = _REFUSALS.get(resp.status_code, exception.CinderAPIError)
            raise error(status=resp.status_code, method=method, url=url,
                        reason=_fault_message(resp))
        if not resp.content:
            return None
        return resp.json()

    # Volumes

    def get(self, context, volume_id: str) -> dict:
        return self._request(context, 'GET', '/volumes/%s' % volume_id,
                             not_found=exception.VolumeNotFound,
                             volume_id=volume_id)['volume']

    def migrate_volume_completion(self, context, old_volume_id: str,
                                  new_volume_id: str, error: bool = False
                                  ) -> str:
        """Legacy swap callback; returns the id the volume keeps."""
        body = {'os-migrate_volume_completion': {
            'new_volume': new_volume_id, 'error': error}}
        resp = self._request(context, 'POST',
                             '/volumes/%s/action' % old_volume_id, body,
                             not_found=exception.VolumeNotFound,
                             volume_id=old_volume_id)
        return resp['save_volume_id']

    # Attachments (new-style, microversion >= 3.27)

    def attachment_create(self, context, volume_id: str, instance_uuid: str,
                          connector: dict | None = None,
                          mode: str = 'rw') -> dict:
        body = {'attachment': {'volume_uuid': volume_id,
                               'instance_uuid': instance_uuid,
                               'mode': mode}}
        if connector is not None:
            body['attachment']['connector'] = connector
        return self._request(context, 'POST', '/attachments', body,
                             not_found=exception.VolumeNotFound,
                             volume_id=volume_id)['attachment']

    def attachment_get(self, context, attachment_id: str) -> dict:
        return self._request(context, 'GET', '/attachments/%s'
                             % attachment_id,
                             not_found=exception.AttachmentNotFound,
                             attachment_id=attachment_id)['attachment']

    def attachment_update(self, context, attachment_id: str,
                          connector: dict) -> dict:
        body = {'attachment': {'connector': connector}}
        return self._request(context, 'PUT', '/attachments/%s'
                             % attachment_id, body,
                             not_found=exception.AttachmentNotFound,
                             attachment_id=attachment_id)['attachment']

    def attachment_complete(self, context, attachment_id: str) -> None:
        self._request(context, 'POST', '/attachments/%s/action'
                      % attachment_id, {'os-complete': None},
                      not_found=exception.AttachmentNotFound,
                      attachment_id=attachment_id)

    def attachment_delete(self, context, attachment_id: str) -> None:
        """Delete an attachment; one that is already gone is fine."""
        try:
            self._request(context, 'DELETE', '/attachments/%s'
                          % attachment_id,
                          not_found=exception.AttachmentNotFound,
                          attachment_id=attachment_id)
        except exception.AttachmentNotFound:
            LOG.debug('Attachment %s already deleted', attachment_id)


def swap_refusal(old_volume: dict, new_volume: dict) -> str | None:
    """Why a legacy swap of ``old_volume`` for ``new_volume`` is refused.

    None when Cinder is migrating ``old_volume`` to ``new_volume`` right
    now: the old volume's ``migration_status`` is an in-flight one and
    the new volume is that migration's destination, which Cinder marks
    with ``migration_status = target:<old volume id>`` (what
    ``os-migrate_volume_completion`` checks too). A leftover ``success``
    or ``error`` from an earlier migration, or an unrelated new volume,
    must never re-point a guest.
    """
    status = old_volume.get('migration_status')
    if status not in SWAP_SOURCE_STATUSES:
        return _('it is not being migrated by Cinder (migration_status '
                 'is %(status)s, not one of %(active)s)') % {
                     'status': status,
                     'active': '/'.join(SWAP_SOURCE_STATUSES)}
    wanted = 'target:%s' % old_volume['id']
    if new_volume.get('migration_status') != wanted:
        return _('volume %(new)s is not the destination of its migration '
                 '(its migration_status is %(status)s, not %(wanted)s)') % {
                     'new': new_volume['id'],
                     'status': new_volume.get('migration_status'),
                     'wanted': wanted}
    return None


def _fault_message(resp) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:500]
    if isinstance(body, dict) and len(body) == 1:
        fault = next(iter(body.values()))
        if isinstance(fault, dict) and 'message' in fault:
            return fault['message']
    return str(body)[:500]
