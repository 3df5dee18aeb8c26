"""Refuse request bodies larger than ``[api] max_request_body_size``.

Unlike oslo.middleware's sizelimit (413), the answer is a 400 Nova fault
that says how large the body was and what is allowed: a too-large body is
bad input like any other.
"""

from __future__ import annotations

import io

from oslo_config import cfg
import webob.dec

from nova_volmig.api import wsgi
from nova_volmig import exception
from nova_volmig.i18n import _

CONF = cfg.CONF

# A refused body up to this size is read and dropped before answering, so
# that closing the connection with unread data cannot reset it under the
# client before it read the 400.
DRAIN_LIMIT = 8 * 1024 * 1024


class RequestBodySizeLimiter:

    def __init__(self, application, limit: int | None = None):
        self.application = application
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit or CONF.api.max_request_body_size

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        limit = self.limit
        length = req.environ.get('CONTENT_LENGTH')
        if length not in (None, ''):
            try:
                size = int(length)
            except ValueError:
                size = -1
            if size < 0:
                return wsgi.fault_response(
                    400, _('Invalid Content-Length header.'))
            if size > limit:
                self._drain(req.environ, size)
                return self._too_large(size, limit)
        elif 'chunked' in req.headers.get('Transfer-Encoding', '').lower():
            if not req.environ.get('wsgi.input_terminated'):
                return wsgi.fault_response(
                    400, _('Chunked request bodies are not supported by '
                           'this server; send a Content-Length.'))
            data = req.environ['wsgi.input'].read(limit + 1)
            if len(data) > limit:
                return wsgi.fault_response(
                    400, _('Request body is more than the %d bytes '
                           'allowed.') % limit)
            req.environ['wsgi.input'] = io.BytesIO(data)
            req.environ['CONTENT_LENGTH'] = str(len(data))
        return self.application

    @staticmethod
    def _drain(environ, size: int) -> None:
        if size > DRAIN_LIMIT:
            return
        stream = environ['wsgi.input']
        while size > 0:
            chunk = stream.read(min(size, 65536))
            if not chunk:
                return
            size -= len(chunk)

    @staticmethod
    def _too_large(size: int, limit: int):
        exc = exception.RequestBodyTooLarge(size=size, limit=limit)
        return wsgi.fault_response(exc.code, exc.format_message())
