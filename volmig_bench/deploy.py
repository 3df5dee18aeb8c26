"""The deployment the bench runs on: nova-volmig-aio and its REST APIs.

:class:`AioDeployment` is the common launcher (:mod:`volmig_common.aio`:
``nova-volmig-aio`` as a subprocess in its own session, config files,
SIGHUP reloads) answering with the bench's errors. :class:`Cloud` is the
thin REST client the bench drives it with, as Cinder and operators do:
volume types, volumes, servers, attachments, migrations.
"""

from __future__ import annotations

import datetime
import signal
from typing import Callable

from keystoneauth1 import exceptions as ks_exc

from volmig_bench import exception
from volmig_common import aio
from volmig_common import clients
from volmig_common import polling

ADMIN_TOKEN = clients.ADMIN_TOKEN
ADMIN_ROLES = clients.ADMIN_ROLES
ADMIN_HEADERS = clients.token_headers(ADMIN_TOKEN, ADMIN_ROLES)
COMPUTE_VERSION = clients.COMPUTE_MICROVERSION
VOLUME_VERSION = clients.VOLUME_MICROVERSION
START_TIMEOUT = aio.START_TIMEOUT


def wait_for(predicate: Callable[[], object], timeout: float, what: str,
             interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; return it.

    :func:`volmig_common.polling.wait_for`, failing with DeploymentError.
    """
    return polling.wait_for(
        predicate, timeout, interval, what,
        error=lambda message: exception.DeploymentError(reason=message))


def parse_time(text: str | None) -> float | None:
    """A server timestamp (naive UTC ISO 8601) as a POSIX time."""
    if not text:
        return None
    value = datetime.datetime.fromisoformat(text.rstrip('Z'))
    return value.replace(tzinfo=datetime.timezone.utc).timestamp()


class RestClient:
    """JSON over a keystoneauth Adapter (volmig_common.clients), as admin.

    ``service`` is ``compute`` or ``volume``; ``version`` its microversion.
    """

    def __init__(self, endpoint: str, service: str, version: str,
                 timeout: float = 120.0):
        self.endpoint = endpoint.rstrip('/')
        self.session = clients.token_session(ADMIN_TOKEN, ADMIN_ROLES)
        self.adapter = clients.adapter(self.session, service, endpoint,
                                       version)
        self.timeout = timeout

    def request(self, method: str, path: str, body=None,
                expect: tuple[int, ...] = (200, 201, 202, 204)):
        try:
            resp = self.adapter.request(path, method, json=body,
                                        timeout=self.timeout)
        except ks_exc.ClientException as exc:
            raise exception.DeploymentError(
                reason='%s %s: %s' % (method, path, exc))
        if resp.status_code not in expect:
            raise exception.APIError(method=method, path=path,
                                     status=resp.status_code,
                                     body=resp.text[:500])
        return resp.json() if resp.content else None

    def get(self, path: str, **kw):
        return self.request('GET', path, **kw)

    def post(self, path: str, body=None, **kw):
        return self.request('POST', path, body, **kw)

    def delete(self, path: str, **kw):
        return self.request('DELETE', path, **kw)

    def close(self) -> None:
        self.session.session.close()


#: the one launcher, shared with the functional tests (volmig_common.aio)
_write_conf = aio.write_conf
aio_command = aio.aio_command


class AioDeployment(aio.AioProcess):
    """The bench's ``nova-volmig-aio``: the common launcher and a Cloud.

    :param nova_conf: ``{group: {option: value}}`` of ``nova.conf``.
    :param cinder_conf: the same for ``cinder.conf`` (backends, pools).
    Launch failures raise :class:`exception.DeploymentError`.
    """

    def __init__(self, state_path: str, nova_conf: dict,
                 cinder_conf: dict, compute_driver: str = 'libvirt',
                 volume_protocol: str = 'file'):
        super().__init__(state_path, nova_conf, cinder_conf,
                         compute_driver, volume_protocol)
        self.cloud: Cloud | None = None

    def start(self, timeout: float = START_TIMEOUT) -> 'Cloud':
        try:
            info = super().start(timeout)
        except aio.LaunchError as e:
            raise exception.DeploymentError(reason=str(e))
        self.cloud = Cloud(info['compute'], info['volume'])
        return self.cloud

    def set_nova_options(self, group: str, timeout: float = 15.0,
                         **options) -> None:
        """Change mutable Nova options of the running service (SIGHUP).

        Returns once the service logged that it reloaded its files.
        """
        try:
            super().set_nova_options(group, timeout, **options)
        except aio.LaunchError as e:
            raise exception.DeploymentError(reason=str(e))

    def stop(self, timeout: float = 60.0, sig: int = signal.SIGTERM
             ) -> int | None:
        """``sig`` (SIGTERM), then SIGKILL after ``timeout``; exit code."""
        code = super().stop(timeout, sig)
        if self.cloud is not None:
            self.cloud.close()
        return code

    def __enter__(self) -> 'Cloud':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Cloud:
    """What the bench asks of the deployment, through its REST APIs."""

    def __init__(self, compute_endpoint: str, volume_endpoint: str,
                 project: str = 'admin'):
        self.nova = RestClient(compute_endpoint, 'compute', COMPUTE_VERSION)
        self.cinder = RestClient(volume_endpoint + '/' + project, 'volume',
                                 VOLUME_VERSION)

    def close(self) -> None:
        self.nova.close()
        self.cinder.close()

    # volume types and volumes

    def create_volume_type(self, name: str, backend_name: str) -> dict:
        return self.cinder.post('/types', {'volume_type': {
            'name': name,
            'extra_specs': {'volume_backend_name': backend_name}}}
        )['volume_type']

    def create_volume(self, size_bytes: int, volume_type: str,
                      name: str | None = None,
                      timeout: float = 60.0) -> dict:
        volume = self.cinder.post('/volumes', {'volume': {
            'size_bytes': size_bytes, 'volume_type': volume_type,
            'name': name}})['volume']
        return self.wait_volume(volume['id'], ('available',), timeout)

    def volume(self, volume_id: str) -> dict:
        return self.cinder.get('/volumes/%s' % volume_id)['volume']

    def wait_volume(self, volume_id: str, statuses: tuple[str, ...],
                    timeout: float = 60.0) -> dict:
        def check():
            volume = self.volume(volume_id)
            if volume['status'] == 'error':
                raise exception.DeploymentError(
                    reason='volume %s went to error' % volume_id)
            return volume if volume['status'] in statuses else None

        return wait_for(check, timeout, 'volume %s %s' % (volume_id,
                                                          '/'.join(statuses)))

    def delete_volume(self, volume_id: str) -> None:
        self.cinder.delete('/volumes/%s' % volume_id, expect=(202, 404))

    @staticmethod
    def volume_location(volume: dict) -> tuple[str, str, str]:
        """(backend, pool, file name) of a volume's data."""
        host = volume['os-vol-host-attr:host']
        backend, _, pool = host.split('@', 1)[1].partition('#')
        name_id = volume.get('os-vol-mig-status-attr:name_id') or \
            volume['id']
        return backend, pool, 'volume-%s' % name_id

    def migrate_volume(self, volume_id: str, host: str,
                       force_host_copy: bool = False) -> None:
        self.cinder.post('/volumes/%s/action' % volume_id, {
            'os-migrate_volume': {'host': host,
                                  'force_host_copy': force_host_copy}})

    def volume_migration(self, volume_id: str) -> dict:
        """Cinder's latest migration record of the volume (admin)."""
        return self.cinder.get('/volumes/%s/migration'
                               % volume_id)['migration']

    # servers and attachments

    def create_server(self, name: str, image: str, flavor: str,
                      timeout: float = 120.0) -> dict:
        server = self.nova.post('/servers', {'server': {
            'name': name, 'imageRef': image, 'flavorRef': flavor}}
        )['server']
        return self.wait_server(server['id'], 'ACTIVE', timeout)

    def server(self, server_id: str) -> dict:
        return self.nova.get('/servers/%s' % server_id)['server']

    def wait_server(self, server_id: str, status: str,
                    timeout: float = 120.0) -> dict:
        def check():
            server = self.server(server_id)
            if server['status'] == 'ERROR':
                raise exception.DeploymentError(
                    reason='server %s went to ERROR: %s' % (
                        server_id, server.get('fault')))
            return server if (server['status'] == status and
                              server['OS-EXT-STS:task_state'] is None) \
                else None

        return wait_for(check, timeout, 'server %s %s' % (server_id, status))

    def delete_server(self, server_id: str, timeout: float = 120.0) -> None:
        self.nova.delete('/servers/%s' % server_id, expect=(204, 404))

        def gone():
            try:
                self.nova.get('/servers/%s' % server_id)
            except exception.APIError as exc:
                return exc.kwargs.get('status') == 404
            return False

        wait_for(gone, timeout, 'deleting server %s' % server_id)

    def attach(self, server_id: str, volume_id: str,
               timeout: float = 60.0) -> dict:
        attachment = self.nova.post(
            '/servers/%s/os-volume_attachments' % server_id,
            {'volumeAttachment': {'volumeId': volume_id}}
        )['volumeAttachment']
        self.wait_volume(volume_id, ('in-use',), timeout)
        return attachment

    def nova_migration(self, src_attachment_id: str) -> dict:
        return self.nova.get('/os-volume-migrations/%s'
                             % src_attachment_id)['volume_migration']
