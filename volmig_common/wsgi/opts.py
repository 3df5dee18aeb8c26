"""Options of the HTTP server both REST APIs serve through.

The names are the same in both services; the group is each service's
own (Nova's ``[api]``, Cinder's ``[DEFAULT]``), so each registers the
options :func:`server_opts` makes in its own list.
"""

from __future__ import annotations

from oslo_config import cfg


def server_opts() -> list[cfg.Opt]:
    """New ``client_socket_timeout``, ``backlog``, ``max_request_header_size``.

    What ``volmig_common.wsgi.server.WSGIServer`` takes; new objects on
    each call, one set per service.
    """
    return [
        cfg.IntOpt('client_socket_timeout', default=60, min=1,
                   help='Seconds an API client connection may stay idle, '
                        'or take to send a request, before it is closed '
                        '(a request started but not finished in time '
                        'answers 408).'),
        cfg.IntOpt('backlog', default=1024, min=128,
                   help='API connections waiting to be accepted (the '
                        'listen backlog).'),
        cfg.IntOpt('max_request_header_size', default=65536, min=1024,
                   help='Largest API request line plus headers accepted, '
                        'in bytes; a longer request line answers 414, '
                        'longer headers 431.'),
    ]
