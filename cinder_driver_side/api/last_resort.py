"""The outermost middleware of the volume API: never a non-JSON error.

``volmig_common.wsgi.last_resort`` with Cinder fault bodies: a path or
query string that is not UTF-8 once percent-decoded answers a 400 fault;
anything raised below becomes a 500 fault.
"""

from __future__ import annotations

from cinder_driver_side.api import wsgi
from volmig_common.wsgi import last_resort as common_last_resort

GENERIC_ERROR = wsgi.GENERIC_ERROR

undecodable_part = common_last_resort.undecodable_part


class LastResort(common_last_resort.LastResort):
    """WSGI middleware: UTF-8 paths and queries, JSON 500s."""

    def __init__(self, application):
        super().__init__(application, wsgi.fault_body, GENERIC_ERROR)
