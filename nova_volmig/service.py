"""Services of the Nova side: the compute RPC service and the REST API.

Both can run in one process (``nova-volmig-aio``) or apart, over a real
message broker (``nova-volmig-api`` / ``nova-volmig-compute``).
"""

from __future__ import annotations

import threading

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging

from nova_volmig.compute import api as compute_api
from nova_volmig.compute import manager as compute_manager
from nova_volmig.compute import rpcapi as compute_rpcapi
from nova_volmig import context as nova_context
from nova_volmig.db import api as db
from nova_volmig import rpc

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class ComputeService:
    """nova-volmig-compute: manager + driver behind an RPC server.

    Start-up order matters for invariant 5: the driver connects and every
    unfinished migration is reconciled *before* RPC is served.
    """

    def __init__(self, host: str | None = None, driver=None):
        self.host = host or CONF.host
        self.manager = compute_manager.ComputeManager(self.host, driver)
        self._server: messaging.MessageHandlingServer | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def start(self) -> None:
        self.manager.init_host()
        self._report_state()
        target = messaging.Target(topic=compute_rpcapi.TOPIC,
                                  server=self.host)
        self._server = rpc.get_server(target, [self.manager])
        self._server.start()
        self._heartbeat = threading.Thread(target=self._heartbeat_loop,
                                           name='compute-heartbeat',
                                           daemon=True)
        self._heartbeat.start()
        LOG.info('nova-volmig-compute on host %s serving with %s',
                 self.host, type(self.manager.driver).__name__)

    def _report_state(self) -> None:
        db.service_update(nova_context.get_admin_context(), self.host,
                          compute_api.COMPUTE_BINARY,
                          self.manager.service_values())

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(CONF.compute.report_interval):
            try:
                self._report_state()
            except Exception:
                LOG.exception('Heartbeat of %s failed', self.host)

    def stop(self, graceful_seconds: float = 10.0) -> None:
        """Stop taking RPC, let in-flight calls end, then the manager."""
        self._stop.set()
        if self._server is not None:
            self._server.stop()
            self._server.wait()
        self.manager.cleanup_host(graceful_seconds)
        LOG.info('nova-volmig-compute on host %s stopped', self.host)


class APIService:
    """nova-volmig-api: the WSGI app in a threaded WSGI server."""

    def __init__(self, host: str | None = None, port: int | None = None):
        from nova_volmig.api import app as api_app
        from nova_volmig.api import server as api_server
        self.app = api_app.build_app()
        self.server = api_server.WSGIServer(
            self.app, host or CONF.api.listen,
            CONF.api.port if port is None else port)

    @property
    def endpoint(self) -> str:
        return self.server.endpoint.rstrip('/') + '/v2.1'

    def start(self) -> None:
        self.server.start()
        LOG.info('nova-volmig-api listening on %s', self.endpoint)

    def stop(self) -> None:
        self.server.stop()
