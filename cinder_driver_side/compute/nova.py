"""Client of Nova's compute API: volume migrations and legacy swap.

Compute microversion 2.105 (``OpenStack-API-Version: compute 2.105``).
Connection failures (the request never reached Nova) are retried with
tenacity; every other failure raises at once: NovaAPIError carries Nova's
status and fault message, NovaConnectionFailed the transport error.
"""

from __future__ import annotations

from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg
from oslo_log import log as logging
import tenacity

from cinder_driver_side import exception

LOG = logging.getLogger(__name__)

COMPUTE_MICROVERSION = '2.105'


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
            if self.auth_strategy == 'keystone':
                auth = ks_loading.load_auth_from_conf_options(conf, 'nova')
                session = ks_loading.load_session_from_conf_options(
                    conf, 'nova', auth=auth)
            else:
                session = ks_session.Session()
        self.session = session

    def _headers(self) -> dict[str, str]:
        headers = {'OpenStack-API-Version': 'compute %s'
                                            % COMPUTE_MICROVERSION,
                   'X-OpenStack-Nova-API-Version': COMPUTE_MICROVERSION,
                   'Accept': 'application/json'}
        if self.auth_strategy == 'noauth2':
            headers['X-Auth-Token'] = self.noauth_token
            headers['X-Roles'] = 'service'
        return headers

    def _request(self, method: str, path: str,
                 body: Any = None) -> Any:
        url = self.endpoint + path

        @tenacity.retry(
            retry=tenacity.retry_if_exception_type(ks_exc.ConnectFailure),
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=tenacity.wait_exponential(multiplier=0.5, max=5),
            reraise=True)
        def send():
            return self.session.request(
                url, method, headers=self._headers(), json=body,
                raise_exc=False, timeout=self.timeout,
                authenticated=self.auth_strategy == 'keystone')

        try:
            response = send()
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
