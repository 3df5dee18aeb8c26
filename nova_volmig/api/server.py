"""The compute API's HTTP server: ``volmig_common.wsgi.server`` with
``[api]`` options and Nova fault bodies.

A fixed pool of ``[api] workers_threads`` threads serves requests; idle
clients hold no thread and are closed after ``[api]
client_socket_timeout``; the errors cheroot answers itself carry a Nova
fault body like the API's own (see the common module for how).
"""

from __future__ import annotations

from oslo_config import cfg

from nova_volmig.api import wsgi
from volmig_common.wsgi import faults
from volmig_common.wsgi import server as common_server

CONF = cfg.CONF


class WSGIServer(common_server.WSGIServer):
    """Serve a WSGI app per the ``[api]`` options; any unset one from CONF.

    ``port`` 0 picks an ephemeral port; :attr:`port` and :attr:`endpoint`
    tell which once :meth:`start` returned.
    """

    name = 'the compute API'
    server_name = 'nova-volmig-api'

    def __init__(self, app, host: str = '127.0.0.1', port: int = 0,
                 max_threads: int | None = None, *,
                 client_socket_timeout: float | None = None,
                 backlog: int | None = None,
                 max_request_header_size: int | None = None,
                 fault_body: faults.FaultBody | None = None):
        super().__init__(
            app, host, port,
            fault_body=fault_body or wsgi.fault_body,
            max_threads=max_threads or CONF.api.workers_threads,
            client_socket_timeout=(client_socket_timeout
                                   or CONF.api.client_socket_timeout),
            backlog=backlog or CONF.api.backlog,
            max_request_header_size=(max_request_header_size
                                     or CONF.api.max_request_header_size))
