"""The volume API's OpenAPI 3.1 document, built from the route table.

Paths, methods, query parameters and request bodies come from
``route_table.ROUTES``, whose schemas are the very objects the handlers
validate with (a unit test holds them to it). Served at
``GET /v3/openapi.json``; ``make genapi`` ships it as
``doc/source/cinder/openapi.json``.
"""

from __future__ import annotations

import functools

from cinder_driver_side.api import microversions
from cinder_driver_side.api import route_table
from cinder_driver_side.api import schemas
from cinder_driver_side.api import wsgi
from volmig_common.wsgi import openapi as common_openapi

OPENAPI_VERSION = common_openapi.OPENAPI_VERSION
DOCUMENT_PATH = common_openapi.DOCUMENT_PATH

# Success codes the handlers answer with (they return (status, body)).
_CODES = {('volumes', 'create'): 202, ('volumes', 'delete'): 202,
          ('volumes', 'action'): (202, 200), ('types', 'delete'): 202,
          ('types', 'extra_specs_delete'): 202,
          ('attachments', 'action'): 204}

# How one answer leads to the next call (OpenAPI links): documentation for
# clients, and the sequences schemathesis's stateful phase chains.
_VOLUME = '$response.body#/volume/id'
_ATTACHMENT = '$response.body#/attachment/id'
_TYPE = '$response.body#/volume_type/id'
LINKS: dict[str, dict[str, dict]] = {
    'volumes.create': {
        'ShowVolume': {'operationId': 'volumes.show',
                       'parameters': {'id': _VOLUME}},
        'DeleteVolume': {'operationId': 'volumes.delete',
                         'parameters': {'id': _VOLUME}},
        'VolumeAction': {'operationId': 'volumes.action',
                         'parameters': {'id': _VOLUME}},
        'ShowMigration': {'operationId': 'volumes.migration',
                          'parameters': {'id': _VOLUME}},
        'CreateAttachment': {
            'operationId': 'attachments.create',
            'requestBody': {'attachment': {'volume_uuid': _VOLUME}}},
    },
    'volumes.index': {
        'ShowVolume': {'operationId': 'volumes.show',
                       'parameters': {'id': '$response.body#/volumes/0/id'}},
    },
    'attachments.create': {
        'ShowAttachment': {'operationId': 'attachments.show',
                           'parameters': {'id': _ATTACHMENT}},
        'UpdateAttachment': {'operationId': 'attachments.update',
                             'parameters': {'id': _ATTACHMENT}},
        'DeleteAttachment': {'operationId': 'attachments.delete',
                             'parameters': {'id': _ATTACHMENT}},
        'CompleteAttachment': {'operationId': 'attachments.action',
                               'parameters': {'id': _ATTACHMENT}},
    },
    'types.create': {
        'ShowType': {'operationId': 'types.show',
                     'parameters': {'id': _TYPE}},
        'DeleteType': {'operationId': 'types.delete',
                       'parameters': {'id': _TYPE}},
        'ListExtraSpecs': {'operationId': 'types.extra_specs_index',
                           'parameters': {'type_id': _TYPE}},
        'SetExtraSpecs': {'operationId': 'types.extra_specs_create',
                          'parameters': {'type_id': _TYPE}},
    },
    'types.extra_specs_create': {
        'DeleteExtraSpec': {'operationId': 'types.extra_specs_delete',
                            'parameters': {
                                'type_id': '$request.path.type_id'}},
    },
}


def _schema_names() -> dict[int, str]:
    """``id(schema) -> attribute name`` in the schemas module."""
    return {id(value): name for name, value in vars(schemas).items()
            if isinstance(value, dict) and not name.startswith('_')}


class _Builder(common_openapi.Components):
    def __init__(self):
        super().__init__(_schema_names(), wsgi.FAULT_NAMES)

    def body(self, route: route_table.Route) -> dict | None:
        if route.body is not None:
            schema = self.ref(route.body)
        elif route.actions:
            # {"<action>": <its argument>}, one action per request.
            schema = {'oneOf': [
                {'type': 'object',
                 'properties': {name: self.ref(args)},
                 'required': [name], 'additionalProperties': False}
                for name, args in route.actions.items()]}
        else:
            return None
        return {'required': True,
                'content': {'application/json': {'schema': schema}}}


def _responses(op_id: str, codes: tuple[int, ...]) -> dict:
    responses = {str(code): common_openapi.success(
        code, {'type': ['object', 'null']}, LINKS.get(op_id))
        for code in codes}
    responses['4XX'] = common_openapi.fault()
    return responses


def _operation(builder: _Builder, route: route_table.Route) -> dict:
    op_id = '%s.%s' % (route.controller, route.action)
    operation = common_openapi.operation(
        op_id, route.controller,
        '%s %s' % (route.controller, route.action.replace('_', ' ')),
        route.path, list(route.actions) if route.actions else None)
    operation['parameters'] += [
        {'name': name, 'in': 'query', 'required': False,
         'schema': {'type': 'string'}} for name in route.query]
    body = builder.body(route)
    if body is not None:
        operation['requestBody'] = body
    codes = _CODES.get((route.controller, route.action), 200)
    operation['responses'] = _responses(
        op_id, codes if isinstance(codes, tuple) else (codes,))
    return operation


@functools.cache
def document() -> dict:
    """The OpenAPI 3.1 document of the volume API (built once)."""
    builder = _Builder()
    paths: dict[str, dict] = {}
    for route in route_table.ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = \
            _operation(builder, route)
    return common_openapi.document(
        service_type='volume',
        title='nova-volmig volume API (Cinder side)',
        version=microversions.MAX_VERSION,
        description=(
            'Volume API v3, microversions %s to %s (header '
            '"OpenStack-API-Version: volume <version>"); attachments '
            'need %s. Every path also answers under /v3/{project_id}.'
            % (microversions.MIN_VERSION, microversions.MAX_VERSION,
               microversions.ATTACHMENTS)),
        server_url='/v3', min_version=microversions.MIN_VERSION,
        paths=paths, components=builder)


def dumps() -> str:
    """The document as shipped in doc/source/cinder/openapi.json."""
    return common_openapi.dumps(document())
