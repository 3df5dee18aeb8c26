"""The volume API's HTTP server: ``volmig_common.wsgi.server`` with the
``osapi_volume_*`` options and Cinder fault bodies.

A fixed pool of ``osapi_volume_workers_threads`` threads; idle clients
hold no thread and are closed after ``client_socket_timeout``; the errors
cheroot answers itself carry a Cinder fault body (see the common module).
"""

from __future__ import annotations

import logging as std_logging

from oslo_config import cfg

from cinder_driver_side.api import wsgi
from volmig_common.wsgi import server as common_server


class WSGIServer(common_server.WSGIServer):
    """Serve ``app`` per the ``osapi_volume_*`` options of ``conf``."""

    name = 'the volume API'
    server_name = 'cinder-volmig'
    # One line per request only when debugging, as before.
    access_level = std_logging.DEBUG

    def __init__(self, app, conf: cfg.ConfigOpts, host: str | None = None,
                 port: int | None = None):
        self.conf = conf
        super().__init__(
            app, host or conf.osapi_volume_listen,
            conf.osapi_volume_listen_port if port is None else port,
            fault_body=wsgi.fault_body,
            max_threads=conf.osapi_volume_workers_threads,
            client_socket_timeout=conf.client_socket_timeout,
            backlog=conf.backlog,
            max_request_header_size=conf.max_request_header_size)
