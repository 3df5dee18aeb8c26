"""The distributed deployment in the functional tests.

``DistributedTestCase`` starts one deployment per test class
(``volmig_distributed``: nova-volmig-api, compute-live,
compute-offline and cinder-volmig as processes over the host's RabbitMQ and
PostgreSQL), each class with its own databases and vhost, so that the two
stestr workers never see each other's messages or rows. Tests drive it
through ``Cloud``, the sibling of the aio fixture: the same REST helpers,
bound to the running deployment instead of an aio process.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import uuid

import fixtures
import libvirt
import psycopg2
import requests
import testtools

from nova_volmig.api import server as api_server
from tests import base
from tests.functional.fixtures import aio as aio_fixtures
from tests.functional.fixtures import libvirt as lv
from tests.functional.fixtures import sparse
from volmig_distributed import deployment as dep
from volmig_distributed import listener
from volmig_distributed import services

MiB = 1024 * 1024
#: size of the tests' volumes (Cinder's size_bytes): small, fast to hash
VOLUME_MIB = 64
LIVE = dep.LIVE_HOST
OFFLINE = dep.OFFLINE_HOST
CINDER_HOST = dep.CINDER_HOST
NOVA_TERMINAL = ('completed', 'cancelled', 'error')

# Small, so that a dead compute host is seen quickly and a call that needs
# it answers 409 fast; start and complete of the tests' sparse 1 GiB
# volumes take well under a second here.
TEST_SETTINGS = dict(start_timeout=15, complete_timeout=15,
                     rpc_call_timeout=15, service_down_time=6,
                     report_interval=1)


class Cloud(aio_fixtures.Aio):
    """REST helpers of the aio fixture over a distributed deployment.

    Servers created through it have their domains removed at the end of
    the test, whatever state the deployment is in.
    """

    def __init__(self, deployment: dep.Deployment):
        super().__init__(deployment.state_path)
        self.deployment = deployment

    def _setUp(self):
        info = self.deployment.info
        self.connect(info['compute_api'], info['volume_api'])

    # The aio's life-cycle calls make no sense here: one process each.
    def start(self, *args, **kwargs):
        raise NotImplementedError('use the deployment\'s services')

    stop = kill = restart = start

    def log_tail(self, lines: int = 60) -> str:
        return '\n'.join(self.deployment.log_tail(name, lines)
                         for name in self.deployment.services)

    def create_server_on(self, host: str, name: str = 'vm') -> dict:
        """A server on ``host`` (the admin "zone:host" form)."""
        server = self.create_server(name, availability_zone='nova:%s' % host)
        if server['OS-EXT-SRV-ATTR:host'] != host:
            raise AssertionError('server %s landed on %s, not %s' % (
                server['id'], server['OS-EXT-SRV-ATTR:host'], host))
        return server

    def wait_migration(self, volume_id: str, timeout: float = 120) -> dict:
        """Cinder's migration ended, and Nova's asynchronous part too.

        Cinder reports success as soon as complete returned (src may be
        released); Nova's commit into dst may still run, and no guest
        write may overlap it (DESIGN 5).
        """
        volume = super().wait_migration(volume_id, timeout)
        for attachment in volume.get('attachments') or []:
            server_id = attachment['server_id']
            lv.wait_for(
                lambda: all(m['status'] in NOVA_TERMINAL
                            for m in self.migrations(server_id))
                and self.server(server_id)['OS-EXT-STS:task_state'] is None,
                timeout=timeout, what='Nova side of the migration of %s '
                                      'settled' % volume_id)
        return self.volume(volume_id)

    def migrations(self, server_id: str) -> list[dict]:
        return self.nova.get('/os-volume-migrations?instance_uuid=%s'
                             % server_id, expect=200
                             ).json()['volume_migrations']

    def migration(self, attachment_id: str) -> dict:
        return self.nova.get('/os-volume-migrations/%s' % attachment_id,
                             expect=200).json()['volume_migration']

    def wait_migration_status(self, attachment_id: str, status: str,
                              timeout: float = 60) -> dict:
        return lv.wait_for(
            lambda: (lambda m: m if m['status'] == status else None)(
                self.migration(attachment_id)),
            timeout=timeout, what='Nova migration %s %s' % (attachment_id,
                                                            status))

    def attachment_id(self, server_id: str, volume_id: str) -> str:
        return self.nova.get('/servers/%s/os-volume_attachments/%s' % (
            server_id, volume_id), expect=200
        ).json()['volumeAttachment']['attachment_id']

    # The new API as Cinder calls it (DESIGN 3), answers unchecked.

    def start_migration(self, src_attachment_id: str):
        return self.nova.post('/os-volume-migrations', {'volume_migration': {
            'src_attachment_id': src_attachment_id}})

    def complete_migration(self, src_attachment_id: str,
                           dst_attachment_id: str):
        return self.nova.post(
            '/os-volume-migrations/%s/action' % src_attachment_id,
            {'complete': {'dst_attachment_id': dst_attachment_id}})

    def cancel_migration(self, src_attachment_id: str):
        return self.nova.post(
            '/os-volume-migrations/%s/action' % src_attachment_id,
            {'cancel': None})

    def create_attachment(self, volume_id: str, server_id: str) -> dict:
        """A Cinder attachment without a connector, as for a dst.

        The compute host fills its connection in at complete.
        """
        return self.cinder.post('/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': server_id}},
            expect=200).json()['attachment']


def domain_exists(server_id: str) -> bool:
    conn = libvirt.open('qemu:///system')
    try:
        conn.lookupByUUIDString(server_id)
        return True
    except libvirt.libvirtError:
        return False
    finally:
        conn.close()


class Notifications(fixtures.Fixture):
    """A listener on the deployment's versioned_notifications topic."""

    def __init__(self, deployment: dep.Deployment):
        super().__init__()
        self.deployment = deployment

    def _setUp(self):
        self.collector = listener.NotificationCollector(
            self.deployment.transport_url,
            pool='test-%s' % uuid.uuid4().hex[:8])
        self.collector.start()
        self.addCleanup(self.collector.stop)

    def __getattr__(self, name):
        return getattr(self.collector, name)


class DistributedTestCase(base.TestCase):
    """One distributed deployment per test class.

    :cvar settings: fields of :class:`deployment.Settings` (timeouts,
        ``nova_overrides``/``cinder_overrides``) for the class.
    """

    settings: dict = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.deployment_dir = tempfile.mkdtemp(prefix='volmig-dist-')
        name = 'vt_%s' % uuid.uuid4().hex[:12]
        settings = dep.Settings(name=name, nova_port=0, cinder_port=0,
                                debug=False,
                                **{**TEST_SETTINGS, **cls.settings})
        cls.deployment = dep.Deployment(cls.deployment_dir, settings)
        try:
            cls.deployment.start()
        except BaseException:
            cls._teardown_deployment(check_exit_codes=False)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls._teardown_deployment(check_exit_codes=True)
        finally:
            super().tearDownClass()

    @classmethod
    def _teardown_deployment(cls, check_exit_codes: bool) -> None:
        deployment = cls.deployment
        try:
            codes = deployment.stop()
            bad = {n: c for n, c in codes.items() if c not in (0, None)}
            if check_exit_codes and bad:
                raise AssertionError('services did not exit 0 on SIGTERM: '
                                     '%s\n%s' % (bad, '\n'.join(
                                         deployment.log_tail(n)
                                         for n in bad)))
        finally:
            try:
                deployment.drop_data()
            finally:
                shutil.rmtree(cls.deployment_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.deployment = type(self).deployment
        self.addOnException(self._attach_logs)
        self.ensure_services_running()
        self.cloud = self.useFixture(Cloud(self.deployment))

    def ensure_services_running(self) -> None:
        """A test that stopped a service must not break the next one."""
        down = [n for n in self.deployment.services
                if not self.deployment.is_running(n)]
        for name in down:
            self.deployment.start_service(name)

    def _attach_logs(self, exc_info):
        for name in self.deployment.services:
            self.addDetail('log-%s' % name, testtools.content.text_content(
                self.deployment.log_tail(name, 150)))

    def attached_volume(self, host: str = LIVE, seed: int = 1,
                        size_mib: int = VOLUME_MIB):
        """A server on ``host`` with a small volume holding some data.

        With a guest writer (HMP qemu-io) when the server runs on libvirt.
        """
        server = self.cloud.create_server_on(host)
        volume = self.cloud.create_volume(size_bytes=size_mib * MiB)
        fill_volume(self.cloud.volume_path(volume), seed)
        att = self.cloud.attach(server['id'], volume['id'])
        writer = None
        if host == LIVE:
            initial = sparse.read(self.cloud.volume_path(volume))
            writer = aio_fixtures.HMPWriter(
                server['OS-EXT-SRV-ATTR:instance_name'], att['device'],
                initial, seed=seed)
            self.addCleanup(writer.close)
        return server, self.cloud.volume(volume['id']), writer

    def listen(self) -> Notifications:
        return self.useFixture(Notifications(self.deployment))

    def wait_service_down(self, host: str) -> None:
        """Until the API counts ``host`` as down (no heartbeat)."""
        lv.wait_for(lambda: self.service_is_down(host),
                    timeout=self.deployment.settings.service_down_time + 30,
                    interval=0.5, what='%s counted as down' % host)

    def service_is_down(self, host: str) -> bool:
        # What the API's service_is_up reads: the last heartbeat.
        url = self.deployment.database_url('nova').replace(
            'postgresql+psycopg2', 'postgresql')
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT extract(epoch FROM (now() at time zone "
                        "'utc') - last_seen_up) FROM services "
                        "WHERE host = %s", (host,))
            (age,) = cur.fetchone()
        return age > self.deployment.settings.service_down_time


class SwapRecorder:
    """A proxy in front of Nova that holds back Cinder's swap request.

    Cinder's legacy flow asks Nova for the swap (``PUT
    /servers/{id}/os-volume_attachments/{old}``); upstream Cinder sends it
    with python-novaclient. Here the proxy answers 202 and records the
    request, so that a test can send the same swap with the real novaclient
    CLI. Everything else is forwarded unchanged.
    """

    def __init__(self):
        self.target: str | None = None
        self.swaps: list[tuple[str, str, dict]] = []
        self._server = api_server.WSGIServer(
            self._app, services.LOOPBACK, 0, max_threads=8,
            client_socket_timeout=60, backlog=128,
            max_request_header_size=65536)

    @property
    def endpoint(self) -> str:
        return self._server.endpoint + 'v2.1'

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(timeout=5)

    def _app(self, environ, start_response):
        method = environ['REQUEST_METHOD']
        path = environ.get('PATH_INFO', '')
        length = int(environ.get('CONTENT_LENGTH') or 0)
        body = environ['wsgi.input'].read(length) if length else b''
        if method == 'PUT' and '/os-volume_attachments/' in path:
            self.swaps.append((path, method, json.loads(body or b'{}')))
            start_response('202 Accepted', [('Content-Length', '0')])
            return [b'']
        headers = {k[5:].replace('_', '-').title(): v
                   for k, v in environ.items() if k.startswith('HTTP_')}
        if environ.get('CONTENT_TYPE'):
            headers['Content-Type'] = environ['CONTENT_TYPE']
        query = environ.get('QUERY_STRING')
        url = self.target.rstrip('/') + path[len('/v2.1'):] + (
            '?' + query if query else '')
        resp = requests.request(method, url, data=body or None,
                                headers=headers, timeout=600)
        start_response('%d %s' % (resp.status_code, resp.reason), [
            (k, v) for k, v in resp.headers.items()
            if k.lower() in ('content-type', 'openstack-api-version',
                             'x-openstack-nova-api-version',
                             'x-compute-request-id')])
        return [resp.content]


def volume_files(deployment: dep.Deployment) -> list[str]:
    root = os.path.join(deployment.state_path, 'cinder', 'arrays')
    found = []
    for dirpath, _dirs, files in os.walk(root):
        found += [os.path.join(dirpath, f) for f in files]
    return found


def fill_volume(path: str, seed: int, extents: int = 8,
                extent: int = MiB) -> None:
    """Random data in a few extents of a sparse volume file."""
    size = os.path.getsize(path)
    rnd = random.Random(seed)
    with open(path, 'r+b') as f:
        for _ in range(extents):
            f.seek(rnd.randrange(0, size - extent + 1, 64 * 1024))
            f.write(rnd.randbytes(extent))
