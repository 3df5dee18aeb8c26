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
    def _too_large(size: int, limit: int):
        exc = exception.RequestBodyTooLarge(size=size, limit=limit)
        return wsgi.fault_response(exc.code, exc.format_message())
