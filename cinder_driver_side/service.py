"""Embedding API: the whole Cinder side as one object.

``CinderService(conf).start()`` upgrades its database, recovers
unfinished migrations, and serves the volume API from a thread;
``stop()`` aborts running copies cleanly (each cancels on Nova and
deletes its dst) and stops the NBD exports. ``aio_config()`` builds the
configuration nova-volmig-aio embeds: array1 (pool1, pool2) and array2
(pool1) under the state path.
"""

from __future__ import annotations

import os

from oslo_config import cfg
from oslo_log import log as logging

from cinder_driver_side.api import last_resort
from cinder_driver_side.api import router
from cinder_driver_side.api import server as api_server
from cinder_driver_side.compute import nova
from cinder_driver_side import conf as cinder_conf
from cinder_driver_side.db import api as db_api
from cinder_driver_side.db import migration as db_migration
from cinder_driver_side.volume import manager as manager_mod

LOG = logging.getLogger(__name__)

AIO_ARRAYS = {'array1': ('pool1', 'pool2'), 'array2': ('pool1',)}


class CinderService:
    """cinder-volmig in-process: API server, manager, database."""

    def __init__(self, conf: cfg.ConfigOpts,
                 nova_client: nova.NovaClient | None = None):
        self.conf = conf
        self.db: db_api.Connection | None = None
        self.manager: manager_mod.VolumeManager | None = None
        self.app: router.APIRouter | None = None
        #: What the server serves: ``app`` behind the last-resort guard.
        self.wsgi_app: last_resort.LastResort | None = None
        self._nova_client = nova_client
        self._server: api_server.WSGIServer | None = None

    def start(self) -> None:
        os.makedirs(self.conf.state_path, exist_ok=True)
        self.db = db_api.Connection(self.conf)
        db_migration.db_sync(self.db)
        self.manager = manager_mod.VolumeManager(self.conf, self.db,
                                                 self._nova_client)
        self.manager.init_host()
        self.app = router.APIRouter(self.conf, self.manager)
        self.wsgi_app = last_resort.LastResort(self.app)
        self._server = api_server.WSGIServer(self.wsgi_app, self.conf)
        self._server.start()
        LOG.info('cinder-volmig serving %s (backends: %s)', self.endpoint,
                 ', '.join(self.conf.enabled_backends))

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def endpoint(self) -> str:
        """Volume v3 endpoint without project id."""
        host = self.conf.osapi_volume_listen
        if host in ('0.0.0.0', '::'):
            host = '127.0.0.1'
        if ':' in host:
            host = '[%s]' % host
        return 'http://%s:%d/v3' % (host, self.port)

    def wait(self) -> None:
        if self._server is not None:
            self._server.wait()

    def stop(self, stop_exports: bool = True) -> None:
        """Stop serving, end migrations cleanly, stop NBD daemons."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.manager is not None:
            self.manager.stop(stop_exports=stop_exports)
        if self.db is not None:
            self.db.dispose()


def aio_config(state_path: str, port: int = 8776,
               nova_endpoint: str = 'http://127.0.0.1:8774/v2.1',
               config_files=(), protocol: str = 'file') -> cfg.ConfigOpts:
    """Configuration of the embedded default (nova-volmig-aio).

    ``aio@array1#pool1`` (the default), ``aio@array1#pool2`` and
    ``aio@array2#pool1``, each a directory under ``state_path``;
    ``config_files`` may override any of it.
    """
    conf = cinder_conf.new_conf()
    conf.set_default('host', 'aio')
    conf.set_default('state_path', state_path)
    conf.set_default('osapi_volume_listen_port', port)
    conf.set_default('enabled_backends', list(AIO_ARRAYS))
    conf.set_default('endpoint', nova_endpoint, group='nova')
    for name, pools in AIO_ARRAYS.items():
        cinder_conf.backend.register_backend(conf, name)
        conf.set_default('volume_backend_name', name, group=name)
        conf.set_default('pools', {
            pool: os.path.join(state_path, 'arrays', name, pool)
            for pool in pools}, group=name)
        conf.set_default('export_protocol', protocol, group=name)
    return cinder_conf.parse(conf, [], config_files)
