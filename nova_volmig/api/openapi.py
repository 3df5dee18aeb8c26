"""The compute API's OpenAPI 3.1 document, built from what serves it.

Paths and methods come from the router's ``ROUTE_LIST``; request bodies and
query parameters are the very JSON schemas the ``@validation.schema`` and
``@validation.query_schema`` decorators check (they record them on the
method), so the document cannot drift from what the API accepts. Served at
``GET /v2.1/openapi.json``; ``make genapi`` ships it as
``doc/source/api/openapi.json``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from typing import Any, Callable

from nova_volmig.api import api_version_request
from nova_volmig.api.openstack import common
from nova_volmig.api.openstack.compute import routes
from nova_volmig.api import schemas
from nova_volmig.api import wsgi
from volmig_common.wsgi import openapi as common_openapi

OPENAPI_VERSION = common_openapi.OPENAPI_VERSION
DOCUMENT_PATH = common_openapi.DOCUMENT_PATH

# How one answer leads to the next call (OpenAPI links): documentation for
# clients, and the sequences schemathesis's stateful phase chains.
_SERVER = '$response.body#/server/id'
_ATTACHMENT_PATH = {'server_id': '$request.path.server_id',
                    'id': '$response.body#/volumeAttachment/volumeId'}
_MIGRATION = '$response.body#/volume_migration/src_attachment_id'
LINKS: dict[str, dict[str, dict]] = {
    'servers.create': {
        'ShowServer': {'operationId': 'servers.show',
                       'parameters': {'id': _SERVER}},
        'DeleteServer': {'operationId': 'servers.delete',
                         'parameters': {'id': _SERVER}},
        'ServerAction': {'operationId': 'servers.action',
                         'parameters': {'id': _SERVER}},
        'ListVolumeAttachments': {
            'operationId': 'volume_attachments.index',
            'parameters': {'server_id': _SERVER}},
        'AttachVolume': {'operationId': 'volume_attachments.create',
                         'parameters': {'server_id': _SERVER}},
        'ListInstanceActions': {'operationId': 'instance_actions.index',
                                'parameters': {'server_id': _SERVER}},
    },
    'servers.index': {
        'ShowServer': {'operationId': 'servers.show',
                       'parameters': {'id': '$response.body#/servers/0/id'}},
    },
    'volume_attachments.create': {
        'ShowVolumeAttachment': {'operationId': 'volume_attachments.show',
                                 'parameters': _ATTACHMENT_PATH},
        'SwapVolume': {'operationId': 'volume_attachments.update',
                       'parameters': _ATTACHMENT_PATH},
        'DetachVolume': {'operationId': 'volume_attachments.delete',
                         'parameters': _ATTACHMENT_PATH},
        'StartVolumeMigration': {
            'operationId': 'volume_migrations.create',
            'requestBody': {'volume_migration': {
                'src_attachment_id':
                    '$response.body#/volumeAttachment/attachment_id'}}},
    },
    'instance_actions.index': {
        'ShowInstanceAction': {
            'operationId': 'instance_actions.show',
            'parameters': {
                'server_id': '$request.path.server_id',
                'id': '$response.body#/instanceActions/0/request_id'}},
    },
    'flavors.index': {
        'ShowFlavor': {'operationId': 'flavors.show',
                       'parameters': {'id': '$response.body#/flavors/0/id'}},
    },
    'volume_migrations.create': {
        'ShowVolumeMigration': {'operationId': 'volume_migrations.show',
                                'parameters': {'id': _MIGRATION}},
        'VolumeMigrationAction': {'operationId': 'volume_migrations.action',
                                  'parameters': {'id': _MIGRATION}},
    },
}


def _schema_names() -> dict[int, str]:
    """``id(schema) -> "module.attribute"`` for the request schemas."""
    names = {}
    for info in pkgutil.iter_modules(schemas.__path__):
        module = importlib.import_module('%s.%s' % (schemas.__name__,
                                                    info.name))
        for attr, value in vars(module).items():
            if isinstance(value, dict) and not attr.startswith('_'):
                names.setdefault(id(value), '%s.%s' % (info.name, attr))
    return names


class _Builder(common_openapi.Components):
    def __init__(self):
        super().__init__(_schema_names(), wsgi.FAULT_NAMES)

    def body(self, methods: list[Callable]) -> dict | None:
        """The request body of one route (of its ``@action`` methods)."""
        variants = [(entry, method) for method in methods
                    for entry in getattr(method, 'request_body_schemas', [])]
        if not variants:
            return None
        variants.sort(key=lambda v: api_version_request.APIVersionRequest(
            v[0][1] or api_version_request.MIN_API_VERSION))
        refs = []
        for (body_schema, _min, _max), _method in variants:
            ref = self.ref(body_schema)
            if ref not in refs:
                refs.append(ref)
        schema = refs[0] if len(refs) == 1 else {
            ('oneOf' if len(methods) > 1 else 'anyOf'): refs}
        content: dict[str, Any] = {'schema': schema}
        ranges = [{'min_version': low, 'max_version': high,
                   'schema': self.ref(body_schema)}
                  for (body_schema, low, high), _m in variants
                  if low or high]
        if ranges:
            content['x-openstack-microversions'] = ranges
        return {'required': True,
                'content': {'application/json': content}}

    @staticmethod
    def query(method: Callable) -> list[dict]:
        entries = getattr(method, 'query_schemas', [])
        if not entries:
            return []
        query_schema = entries[-1][0]
        required = query_schema.get('required', [])
        return [{'name': name, 'in': 'query', 'required': name in required,
                 'schema': prop}
                for name, prop in query_schema['properties'].items()]


def _handlers(controller_cls: type, action: str) -> list[Callable]:
    if action != 'action':
        return [getattr(controller_cls, action)]
    return [method for _name, method in inspect.getmembers(
        controller_cls, inspect.isfunction)
        if getattr(method, 'wsgi_action', None)]


def _responses(op_id: str, code: int) -> dict:
    return {str(code): common_openapi.success(code, {'type': 'object'},
                                              LINKS.get(op_id)),
            '4XX': common_openapi.fault()}


def _operation(builder: _Builder, path: str, controller: str,
               action: str) -> dict:
    controller_cls = routes.CONTROLLERS[controller][0]
    handlers = _handlers(controller_cls, action)
    op_id = '%s.%s' % (controller, action)
    doc = inspect.getdoc(handlers[0]) if action != 'action' else None
    operation = common_openapi.operation(
        op_id, controller,
        (doc or '%s %s' % (controller, action)).splitlines()[0], path,
        [h.wsgi_action for h in handlers] if action == 'action' else None)
    operation['parameters'] += builder.query(handlers[0])
    body = builder.body(handlers)
    if body is not None:
        operation['requestBody'] = body
    min_version = controller_cls.min_api_version
    if min_version:
        operation['x-openstack-min-microversion'] = min_version
    code = getattr(handlers[0], 'wsgi_code', 200)
    operation['responses'] = _responses(op_id, code)
    return operation


@functools.cache
def document() -> dict:
    """The OpenAPI 3.1 document of the compute API (built once)."""
    builder = _Builder()
    paths: dict[str, dict] = {}
    for path, methods in routes.ROUTE_LIST:
        if not path:
            continue  # the same as '/', without its slash
        item = paths.setdefault(path, {})
        for method, (controller, action) in methods.items():
            item[method.lower()] = _operation(builder, path, controller,
                                              action)
    return common_openapi.document(
        service_type=api_version_request.SERVICE_TYPE,
        title='nova-volmig compute API',
        version=api_version_request.MAX_API_VERSION,
        description=(
            'Compute API v2.1, microversions %s to %s (header '
            '"OpenStack-API-Version: compute <version>"). Every path '
            'also answers under /v2.1/{project_id}.'
            % (api_version_request.MIN_API_VERSION,
               api_version_request.MAX_API_VERSION)),
        server_url='/' + common.API_PREFIX,
        min_version=api_version_request.MIN_API_VERSION,
        paths=paths, components=builder)


def dumps() -> str:
    """The document as shipped in doc/source/api/openapi.json."""
    return common_openapi.dumps(document())
