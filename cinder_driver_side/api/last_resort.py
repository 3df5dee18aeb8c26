"""The outermost middleware of the volume API: never a non-JSON error.

A path or query string whose percent-decoded bytes are not UTF-8 answers
a 400 fault (WebOb would raise ``UnicodeDecodeError`` in routing, and the
WSGI server answer a plain-text 500); anything raised below becomes a
500 fault body.
"""

from __future__ import annotations

import sys
import urllib.parse

from oslo_log import log as logging
from oslo_serialization import jsonutils

from cinder_driver_side.api import wsgi

LOG = logging.getLogger(__name__)

GENERIC_ERROR = ('The server has either erred or is incapable of '
                 'performing the requested operation.')


def undecodable_part(environ: dict) -> str | None:
    """'path' or 'query string' when that part is not UTF-8, else None.

    PEP 3333 servers pass ``PATH_INFO`` percent-decoded and
    ``QUERY_STRING`` raw, both as latin-1 strings of the bytes received.
    """
    for key, name, unquote in (
            ('SCRIPT_NAME', 'path', False), ('PATH_INFO', 'path', False),
            ('QUERY_STRING', 'query string', True)):
        try:
            raw = (environ.get(key) or '').encode('latin-1')
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
    """WSGI middleware: UTF-8 paths and queries, JSON 500s."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        part = undecodable_part(environ)
        if part is not None:
            return self._fault(
                start_response, 400, 'The %s of the request is not valid '
                'UTF-8 once percent-decoded.' % part)
        started = []

        def start_response_once(status, headers, exc_info=None):
            started.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self.application(environ, start_response_once)
        except Exception:  # noqa: BLE001 - the last resort
            LOG.exception('Unexpected error in %s %s',
                          environ.get('REQUEST_METHOD'),
                          environ.get('PATH_INFO'))
            # A second start_response must carry exc_info (PEP 3333).
            return self._fault(start_response, 500, GENERIC_ERROR,
                               sys.exc_info() if started else None)

    @staticmethod
    def _fault(start_response, code: int, message: str,
               exc_info=None) -> list[bytes]:
        body = jsonutils.dump_as_bytes(wsgi.fault_body(code, message))
        status = '%d %s' % (code, 'Bad Request' if code == 400
                            else 'Internal Server Error')
        start_response(status, [('Content-Type',
                                 'application/json; charset=UTF-8'),
                                ('Content-Length', str(len(body)))],
                       exc_info)
        return [body]
