"""The outermost middleware of the compute API: never a non-JSON error.

It refuses, with a 400 fault, a path or query string whose percent-decoded
bytes are not UTF-8 (WebOb would raise ``UnicodeDecodeError`` deep in the
routing or a controller), and turns anything raised below it into a 500
fault body instead of the WSGI server's plain-text error page.
"""

from __future__ import annotations

import sys
from typing import Callable
import urllib.parse
import uuid

from oslo_log import log as logging
from oslo_serialization import jsonutils

from nova_volmig.api import wsgi
from nova_volmig.i18n import _

LOG = logging.getLogger(__name__)

FaultBody = Callable[[int, str], dict]


def undecodable_part(environ: dict) -> str | None:
    """'path' or 'query string' when that part is not UTF-8, else None.

    PEP 3333 servers pass ``PATH_INFO`` percent-decoded and
    ``QUERY_STRING`` raw, both as latin-1 strings of the bytes received.
    """
    for key, name, unquote in (
            ('SCRIPT_NAME', 'path', False), ('PATH_INFO', 'path', False),
            ('QUERY_STRING', 'query string', True)):
        value = environ.get(key) or ''
        try:
            raw = value.encode('latin-1')
        except UnicodeEncodeError:
            continue        # already text, not bytes in a str
        if unquote:
            raw = urllib.parse.unquote_to_bytes(raw.replace(b'+', b' '))
        try:
            raw.decode('utf-8')
        except UnicodeDecodeError:
            return name
    return None


class LastResort:
    """WSGI middleware: UTF-8 paths and queries, JSON 500s.

    :param fault_body: ``(code, message) -> dict``, the API's fault format.
    """

    def __init__(self, application, fault_body: FaultBody = wsgi.fault_body,
                 generic_error: str = wsgi.GENERIC_ERROR):
        self.application = application
        self.fault_body = fault_body
        self.generic_error = generic_error

    def __call__(self, environ, start_response):
        part = undecodable_part(environ)
        if part is not None:
            return self._fault(start_response, 400, _(
                'The %s of the request is not valid UTF-8 once '
                'percent-decoded.') % part)
        started = []

        def start_response_once(status, headers, exc_info=None):
            started.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self.application(environ, start_response_once)
        except Exception:  # noqa: BLE001 - the last resort
            request_id = (environ.get('openstack.request_id')
                          or 'req-%s' % uuid.uuid4())
            LOG.exception('Unexpected error serving request %s', request_id)
            # A second start_response must carry exc_info (PEP 3333).
            return self._fault(start_response, 500, self.generic_error %
                               {'request_id': request_id},
                               sys.exc_info() if started else None)

    def _fault(self, start_response, code: int, message: str,
               exc_info=None) -> list[bytes]:
        body = jsonutils.dump_as_bytes(self.fault_body(code, message))
        status = '%d %s' % (code, 'Bad Request' if code == 400
                            else 'Internal Server Error')
        start_response(status, [('Content-Type',
                                 'application/json; charset=UTF-8'),
                                ('Content-Length', str(len(body)))],
                       exc_info)
        return [body]
