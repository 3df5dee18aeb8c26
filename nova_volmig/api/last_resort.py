"""The outermost middleware of the compute API: never a non-JSON error.

``volmig_common.wsgi.last_resort`` with Nova fault bodies: a path or
query string that is not UTF-8 once percent-decoded answers a 400
``badRequest``; anything raised below becomes a 500 ``computeFault``
naming the request id to look for in the log.
"""

from __future__ import annotations

from nova_volmig.api import wsgi
from nova_volmig.i18n import _
from volmig_common.wsgi import faults
from volmig_common.wsgi import last_resort as common_last_resort

undecodable_part = common_last_resort.undecodable_part


class LastResort(common_last_resort.LastResort):
    """WSGI middleware: UTF-8 paths and queries, JSON 500s.

    :param fault_body: ``(code, message) -> dict``, the API's fault format.
    """

    def __init__(self, application,
                 fault_body: faults.FaultBody = wsgi.fault_body,
                 generic_error: str = wsgi.GENERIC_ERROR):
        super().__init__(application, fault_body, generic_error, _(
            'The %s of the request is not valid UTF-8 once '
            'percent-decoded.'))
