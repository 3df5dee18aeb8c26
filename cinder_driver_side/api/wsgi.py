"""Request dispatch, JSON responses and Cinder fault bodies."""

from __future__ import annotations

import json
from typing import Any, Callable

from oslo_log import log as logging
from oslo_serialization import jsonutils
import webob
import webob.dec
import webob.exc

from cinder_driver_side.api import microversions
from cinder_driver_side import exception
from volmig_common.wsgi import bodies
from volmig_common.wsgi import faults

LOG = logging.getLogger(__name__)

# Cinder's fault names (cinder/api/openstack/wsgi.py).
FAULT_NAMES = {400: 'badRequest', 401: 'unauthorized', 403: 'forbidden',
               404: 'itemNotFound', 405: 'badMethod', 406: 'notAcceptable',
               409: 'conflictingRequest', 413: 'overLimit',
               415: 'badMediaType', 501: 'notImplemented',
               503: 'serviceUnavailable'}


GENERIC_ERROR = ('The server has either erred or is incapable of '
                 'performing the requested operation.')


def fault_body(code: int, message: str) -> dict:
    """Cinder's fault: ``{"itemNotFound": {"code": 404, "message": ..}}``."""
    return faults.fault_body(FAULT_NAMES, code, message)


def fault(code: int, message: str,
          version: microversions.APIVersion | None = None
          ) -> webob.Response:
    return json_response(fault_body(code, message), code, version)


def json_response(body: Any, status: int = 200,
                  version: microversions.APIVersion | None = None
                  ) -> webob.Response:
    response = webob.Response(status=status, charset='utf-8',
                              content_type='application/json')
    if body is not None:
        response.text = jsonutils.dumps(body)
    else:
        response.content_type = None
        response.body = b''
    if version is not None:
        response.headers['OpenStack-API-Version'] = 'volume %s' % version
        response.headers['Vary'] = 'OpenStack-API-Version'
    return response


class Request(webob.Request):
    """A request with its context and microversion."""

    @property
    def context(self):
        return self.environ['cinder.context']

    @property
    def api_version(self) -> microversions.APIVersion:
        return self.environ['cinder.api_version']

    def json_body(self) -> dict:
        if not self.body:
            raise exception.InvalidInput(reason='a JSON body is required')
        try:
            body = json.loads(self.body)
        except RecursionError:
            # The C parser recurses once per '[' or '{'.
            raise exception.InvalidInput(reason='malformed JSON: nested '
                                                'too deeply')
        except ValueError as e:
            raise exception.InvalidInput(reason='malformed JSON: %s' % e)
        if not isinstance(body, dict):
            raise exception.InvalidInput(reason='the body must be an object')
        if bodies.has_lone_surrogate(body):
            raise exception.InvalidInput(
                reason='a string holds a lone UTF-16 surrogate escape '
                       '(such as \\ud800), which is no character')
        return body


def dispatch(handler: Callable, req: Request, **kwargs) -> webob.Response:
    """Call ``handler(req, **kwargs)``; exceptions become fault bodies.

    A handler returns a webob.Response, or ``(status, body)``.
    """
    version = req.environ.get('cinder.api_version')
    try:
        result = handler(req, **kwargs)
    except exception.CinderException as e:
        if e.code >= 500:
            LOG.error('%s %s: %s', req.method, req.path, e)
        else:
            LOG.info('%s %s: %s %s', req.method, req.path, e.code, e)
        return fault(e.code, e.format_message(), version)
    except webob.exc.HTTPException as e:
        return fault(e.code, e.explanation or e.title, version)
    except Exception:
        LOG.exception('Unexpected error in %s %s', req.method, req.path)
        return fault(500, GENERIC_ERROR, version)
    if isinstance(result, webob.Response):
        if version is not None:
            result.headers['OpenStack-API-Version'] = 'volume %s' % version
        return result
    status, body = result
    return json_response(body, status, version)
