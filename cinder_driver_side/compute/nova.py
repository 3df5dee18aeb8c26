"""Client of Nova's compute API: volume migrations and legacy swap.

A keystoneauth Adapter (:func:`volmig_common.clients.compute_adapter`) on
``[nova] endpoint`` at compute microversion 2.105. Connection failures
(the request never reached Nova) are retried ``[nova] http_retries`` times
by the adapter (``connect_retries``); every other failure raises at once:
NovaAPIError carries Nova's status and fault message, NovaConnectionFailed
the transport error.
"""

from __future__ import annotations

from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from oslo_config import cfg
from oslo_log import log as logging

from cinder_driver_side import exception
from volmig_common import clients

LOG = logging.getLogger(__name__)

COMPUTE_MICROVERSION = clients.COMPUTE_MICROVERSION


def _fault_message(response) -> str:
    """Nova's fault message: ``{"conflict": {"message": ...}}``."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or '').strip()[:500]
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and 'message' in value:
                return str(value['message'])
    return str(body)[:500]


class NovaClient:
    """Thin client of the compute endpoints cinder-volmig calls."""

    def __init__(self, conf: cfg.ConfigOpts,
                 session: ks_session.Session | None = None):
        group = conf.nova
        self.endpoint = group.endpoint.rstrip('/')
        self.timeout = group.http_timeout
        self.retries = group.http_retries
        self.auth_strategy = group.auth_strategy
        self.noauth_token = group.noauth_token
        if session is None:
            session = clients.conf_session(conf, 'nova')
        self.session = session
        headers = None
        if self.auth_strategy == 'noauth2':
            headers = clients.token_headers(self.noauth_token, 'service')
        self.adapter = clients.compute_adapter(
            session, self.endpoint, COMPUTE_MICROVERSION,
            connect_retries=self.retries, headers=headers)

    def _request(self, method: str, path: str,
                 body: Any = None) -> Any:
        url = self.endpoint + path
        try:
            response = self.adapter.request(path, method, json=body,
                                            timeout=self.timeout)
        except ks_exc.ClientException as e:
            raise exception.NovaConnectionFailed(
                reason='%s %s: %s' % (method, url, e))
        if response.status_code >= 400:
            raise exception.NovaAPIError(
                status=response.status_code, method=method, url=url,
                reason=_fault_message(response))
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    # New flow (DESIGN 3)

    def start_volume_migration(self, src_attachment_id: str) -> dict:
        """Synchronous: on return writes to src have stopped."""
        body = self._request('POST', '/os-volume-migrations', {
            'volume_migration': {'src_attachment_id': src_attachment_id}})
        return (body or {}).get('volume_migration', {})

    def get_volume_migration(self, src_attachment_id: str) -> dict:
        body = self._request('GET', '/os-volume-migrations/%s'
                             % src_attachment_id)
        return (body or {}).get('volume_migration', {})

    def complete_volume_migration(self, src_attachment_id: str,
                                  dst_attachment_id: str) -> None:
        """Returns once src may be released (202)."""
        self._request('POST', '/os-volume-migrations/%s/action'
                      % src_attachment_id,
                      {'complete': {'dst_attachment_id': dst_attachment_id}})

    def cancel_volume_migration(self, src_attachment_id: str) -> None:
        self._request('POST', '/os-volume-migrations/%s/action'
                      % src_attachment_id, {'cancel': None})

    # Legacy swap (upstream's path, the benchmark's baseline)

    def swap_volume(self, server_id: str, old_volume_id: str,
                    new_volume_id: str) -> None:
        self._request('PUT', '/servers/%s/os-volume_attachments/%s'
                      % (server_id, old_volume_id),
                      {'volumeAttachment': {'volumeId': new_volume_id}})

    def get_volume_attachment(self, server_id: str, volume_id: str) -> dict:
        body = self._request('GET', '/servers/%s/os-volume_attachments/%s'
                             % (server_id, volume_id))
        return (body or {}).get('volumeAttachment', {})
