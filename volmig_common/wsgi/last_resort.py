"""The outermost middleware of a REST API: never a non-JSON error.

It refuses, with a 400 fault, a path or query string whose percent-decoded
bytes are not UTF-8 (WebOb would raise ``UnicodeDecodeError`` deep in the
routing or a controller, and the WSGI server answer a plain-text 500), and
turns anything raised below it into a 500 fault body instead of the WSGI
server's plain-text error page.
"""

from __future__ import annotations

import sys
import urllib.parse
import uuid

from oslo_log import log as logging
from oslo_serialization import jsonutils

from volmig_common.wsgi import faults

LOG = logging.getLogger(__name__)

#: The 400 message; ``%s`` is 'path' or 'query string'.
NOT_UTF8 = 'The %s of the request is not valid UTF-8 once percent-decoded.'


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
    :param generic_error: the 500's message; ``%(request_id)s`` in it
        names the request (the request-id middleware's, or a new one).
    :param not_utf8: the 400's message, ``%s`` the part (see NOT_UTF8).
    """

    def __init__(self, application, fault_body: faults.FaultBody,
                 generic_error: str, not_utf8: str = NOT_UTF8):
        self.application = application
        self.fault_body = fault_body
        self.generic_error = generic_error
        self.not_utf8 = not_utf8

    def __call__(self, environ, start_response):
        part = undecodable_part(environ)
        if part is not None:
            return self._fault(start_response, 400, self.not_utf8 % part)
        started = []

        def start_response_once(status, headers, exc_info=None):
            started.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self.application(environ, start_response_once)
        except Exception:  # noqa: BLE001 - the last resort
            request_id = (environ.get('openstack.request_id')
                          or 'req-%s' % uuid.uuid4())
            LOG.exception('Unexpected error serving request %s (%s %s)',
                          request_id, environ.get('REQUEST_METHOD'),
                          environ.get('PATH_INFO'))
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
