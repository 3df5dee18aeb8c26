"""The WSGI layer of the compute API, after Nova's ``api.openstack.wsgi``.

:class:`Resource` wraps a controller: it negotiates the microversion,
parses the JSON body, dispatches ``POST .../action`` bodies to the
controller's ``@action`` methods, turns exceptions into Nova fault bodies
and serialises what the controller returns. Controllers stay thin: they
take ``(req, **route_args[, body])`` and return a dict (the response body),
``None`` (no body) or a :class:`ResponseObject`.
"""

from __future__ import annotations

import functools
import inspect
import json
from typing import Any, Callable

from oslo_log import log as logging
from oslo_serialization import jsonutils
import webob
import webob.dec
import webob.exc

from nova_volmig.api import api_version_request
from nova_volmig import exception
from nova_volmig.i18n import _
from volmig_common.wsgi import bodies
from volmig_common.wsgi import faults

LOG = logging.getLogger(__name__)

JSON_CONTENT_TYPES = ('application/json',
                      'application/vnd.openstack.compute+json')

# Nova's fault body names, keyed by HTTP status. 409 is "conflict" here
# (upstream says "conflictingRequest"; DESIGN 3 fixes "conflict").
FAULT_NAMES = {
    400: 'badRequest',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'itemNotFound',
    405: 'badMethod',
    406: 'notAcceptable',
    409: 'conflict',
    413: 'overLimit',
    415: 'badMediaType',
    429: 'overLimit',
    501: 'notImplemented',
    503: 'serviceUnavailable',
}

GENERIC_ERROR = _('Unexpected API Error. Look for request %(request_id)s in '
                  'the nova-volmig-api log.')

# Where the auth middleware keeps the request context.
CONTEXT_KEY = 'nova.context'
# Where the project id segment of the URL is kept for the views' links.
URL_PROJECT_ID_KEY = 'nova_volmig.url_project_id'

# Headers every versioned response carries.
VERSION_HEADER = 'OpenStack-API-Version'
LEGACY_VERSION_HEADER = 'X-OpenStack-Nova-API-Version'
VARY_HEADER = 'Vary'


class Request(webob.Request):
    """A compute API request: its context and negotiated version."""

    def __init__(self, environ, *args, **kwargs):
        super().__init__(environ, *args, **kwargs)
        self.api_version_request = api_version_request.min_api_version()

    @property
    def context(self):
        """The ``nova_volmig.context.RequestContext`` built by auth."""
        return self.environ[CONTEXT_KEY]

    @property
    def request_id(self) -> str | None:
        return self.environ.get('openstack.request_id')

    def set_api_version_request(self) -> None:
        self.api_version_request = api_version_request.from_headers(
            self.headers)

    def is_version(self, min_version: str, max_version: str | None = None
                   ) -> bool:
        return self.api_version_request.matches(min_version, max_version)


class ResponseObject:
    """A controller result that needs headers or a status of its own."""

    def __init__(self, body: dict | None = None, code: int | None = None,
                 headers: dict[str, str] | None = None):
        self.body = body
        self.code = code
        self.headers = dict(headers or {})


# Decorators for controller methods


def response(code: int) -> Callable:
    """The HTTP status a controller method answers with on success."""

    def decorator(func):
        func.wsgi_code = code
        return func
    return decorator


def action(name: str) -> Callable:
    """Mark a method as the handler of ``POST .../action {name: ...}``."""

    def decorator(func):
        func.wsgi_action = name
        return func
    return decorator


def api_version(min_version: str, max_version: str | None = None
                ) -> Callable:
    """Serve the method only for microversions in [min, max]; else 404."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(self, req, *args, **kwargs):
            if not req.api_version_request.matches(min_version,
                                                   max_version):
                raise exception.VersionNotFoundForAPIMethod(
                    version=req.api_version_request.get_string())
            return func(self, req, *args, **kwargs)
        return wrapper
    return decorator


class Controller:
    """Base of resource controllers; collects the ``@action`` methods."""

    #: Routes of a controller added by a microversion answer 404 below it.
    min_api_version: str | None = None

    def __init__(self):
        self.wsgi_actions: dict[str, Callable] = {}
        for _name, method in inspect.getmembers(self, inspect.ismethod):
            name = getattr(method, 'wsgi_action', None)
            if name:
                self.wsgi_actions[name] = method


# Faults


def fault_body(code: int, message: str) -> dict:
    """Nova's fault body (``volmig_common.wsgi.faults``)."""
    return faults.fault_body(FAULT_NAMES, code, message)


def fault_response(code: int, message: str,
                   headers: dict[str, str] | None = None) -> webob.Response:
    """A Nova fault: ``{"itemNotFound": {"code": 404, "message": ...}}``."""
    resp = webob.Response(status=code, content_type='application/json',
                          charset='UTF-8')
    resp.body = jsonutils.dump_as_bytes(fault_body(code, message))
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def fault_from_exception(exc: BaseException,
                         request_id: str | None) -> webob.Response:
    """Map an exception to its fault; never expose a 5xx's internals."""
    if isinstance(exc, exception.NovaVolmigException):
        code = exc.code
        if code < 500 or exc.safe:
            return fault_response(code, exc.format_message())
        LOG.error('Request %(req)s failed with %(code)s: %(msg)s',
                  {'req': request_id, 'code': code,
                   'msg': exc.format_message()}, exc_info=exc)
        return fault_response(code, GENERIC_ERROR % {'request_id':
                                                     request_id})
    if isinstance(exc, webob.exc.HTTPException) and exc.code >= 400:
        if exc.code < 500:
            return fault_response(exc.code, exc.explanation)
    LOG.error('Unexpected error serving request %s', request_id,
              exc_info=exc)
    return fault_response(500, GENERIC_ERROR % {'request_id': request_id})


class FaultWrapper:
    """Outermost safety net: anything raised below becomes a fault."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify(RequestClass=Request)
    def __call__(self, req):
        try:
            return req.get_response(self.application)
        except Exception as exc:  # noqa: BLE001 - turned into a 500 fault
            return fault_from_exception(exc, req.request_id)


# Bodies


def _reject_constant(name: str):
    raise ValueError('%s is not valid JSON' % name)


def parse_json_body(req: Request) -> Any:
    """The decoded JSON body, None when empty; 400/415 on bad input."""
    if not req.content_length and not req.body:
        return None
    content_type = (req.content_type or '').lower()
    if content_type and content_type not in JSON_CONTENT_TYPES \
            and not content_type.endswith('+json'):
        raise webob.exc.HTTPUnsupportedMediaType(
            explanation=_('Unsupported Content-Type %s: send '
                          'application/json.') % req.content_type)
    try:
        text = req.body.decode('utf-8')
        body = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise exception.ValidationError(
            detail=_('Malformed request body: it is not valid JSON.'))
    if bodies.has_lone_surrogate(body):
        raise exception.ValidationError(
            detail=_('Malformed request body: a string holds a lone UTF-16 '
                     'surrogate escape (such as \\ud800), which is no '
                     'character.'))
    return body


# The resource


class Resource:
    """WSGI app of one controller, the target of the router's routes."""

    def __init__(self, controller: Controller):
        self.controller = controller

    @webob.dec.wsgify(RequestClass=Request)
    def __call__(self, req: Request) -> webob.Response:
        try:
            req.set_api_version_request()
        except exception.NovaVolmigException as exc:
            return fault_from_exception(exc, req.request_id)
        try:
            resp = self._process(req)
        except Exception as exc:  # noqa: BLE001 - mapped to a fault
            resp = fault_from_exception(exc, req.request_id)
        self._add_version_headers(req, resp)
        return resp

    def _process(self, req: Request) -> webob.Response:
        args = dict(req.environ['wsgiorg.routing_args'][1])
        action_name = args.pop('action')
        args.pop('controller', None)
        args.pop('format', None)
        project_id = args.pop('project_id', None)
        self._check_project_id(req, project_id)
        if project_id:
            req.environ[URL_PROJECT_ID_KEY] = project_id
        min_version = self.controller.min_api_version
        if min_version and not req.is_version(min_version):
            raise exception.VersionNotFoundForAPIMethod(
                version=req.api_version_request.get_string())

        body = None
        if req.method in ('POST', 'PUT'):
            body = parse_json_body(req)
        if action_name == 'action':
            method = self._get_action_method(body)
        else:
            method = getattr(self.controller, action_name)
        if req.method in ('POST', 'PUT'):
            args['body'] = body
        result = method(req, **args)
        return self._serialize(method, result)

    @staticmethod
    def _check_project_id(req: Request, project_id: str | None) -> None:
        context = req.environ.get(CONTEXT_KEY)
        if (project_id and context is not None and context.project_id
                and project_id != context.project_id):
            raise exception.ValidationError(
                detail=_("Malformed request URL: URL's project_id '%(url)s' "
                         "doesn't match Context's project_id '%(ctx)s'") %
                {'url': project_id, 'ctx': context.project_id})

    def _get_action_method(self, body) -> Callable:
        if not isinstance(body, dict) or not body:
            raise exception.ValidationError(
                detail=_('Malformed request body: an action body is an '
                         'object with exactly one key, the action name.'))
        if len(body) > 1:
            raise exception.ValidationError(
                detail=_('Malformed request body: exactly one action per '
                         'request; got %s.') % ', '.join(sorted(body)))
        name = next(iter(body))
        try:
            return self.controller.wsgi_actions[name]
        except KeyError:
            raise exception.ValidationError(
                detail=_('There is no such action: %s') % name[:255])

    @staticmethod
    def _serialize(method: Callable, result) -> webob.Response:
        code = getattr(method, 'wsgi_code', 200)
        headers: dict[str, str] = {}
        body = result
        if isinstance(result, ResponseObject):
            body = result.body
            code = result.code or code
            headers = result.headers
        if isinstance(result, webob.Response):
            return result
        resp = webob.Response(status=code)
        if body is not None:
            resp.content_type = 'application/json'
            resp.charset = 'UTF-8'
            resp.body = jsonutils.dump_as_bytes(body)
        else:
            resp.content_type = None
        for key, value in headers.items():
            resp.headers[key] = value
        return resp

    @staticmethod
    def _add_version_headers(req: Request, resp: webob.Response) -> None:
        version = req.api_version_request.get_string()
        resp.headers[VERSION_HEADER] = '%s %s' % (
            api_version_request.SERVICE_TYPE, version)
        resp.headers[LEGACY_VERSION_HEADER] = version
        resp.headers[VARY_HEADER] = '%s, %s' % (VERSION_HEADER,
                                                LEGACY_VERSION_HEADER)
