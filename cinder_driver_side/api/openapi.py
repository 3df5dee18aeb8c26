"""The volume API's OpenAPI 3.1 document, built from the route table.

Paths, methods, query parameters and request bodies come from
``router.ROUTES``, whose schemas are the very objects the handlers
validate with (a unit test holds them to it). Served at
``GET /v3/openapi.json``; ``make genapi`` ships it as
``doc/source/cinder/openapi.json``.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from cinder_driver_side.api import microversions
from cinder_driver_side.api import router
from cinder_driver_side.api import schemas
from cinder_driver_side.api import wsgi

OPENAPI_VERSION = '3.1.0'
DOCUMENT_PATH = '/openapi.json'

_PARAM_RE = re.compile(r'{(\w+)}')

# Every error answer: {"<faultName>": {"code": 4xx, "message": "..."}}.
FAULT_SCHEMA = {
    'type': 'object',
    'minProperties': 1, 'maxProperties': 1,
    'propertyNames': {'enum': sorted({*wsgi.FAULT_NAMES.values(),
                                      'computeFault'})},
    'additionalProperties': {
        'type': 'object',
        'properties': {'code': {'type': 'integer'},
                       'message': {'type': 'string'}},
        'required': ['code', 'message'],
    },
}

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


class _Builder:
    def __init__(self):
        self.names = _schema_names()
        self.components: dict[str, dict] = {'Fault': FAULT_SCHEMA}

    def ref(self, schema: dict) -> dict:
        """A ``$ref`` to a named schema, or the schema itself inline."""
        name = self.names.get(id(schema))
        if name is None:
            return schema
        self.components[name] = schema
        return {'$ref': '#/components/schemas/%s' % name}

    def body(self, route: router.Route) -> dict | None:
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
    responses = {}
    for code in codes:
        success: dict[str, Any] = {'description': 'Success.'}
        if code != 204:
            success['content'] = {'application/json': {
                'schema': {'type': ['object', 'null']}}}
        if op_id in LINKS:
            success['links'] = LINKS[op_id]
        responses[str(code)] = success
    responses['4XX'] = {
        'description': 'A fault: its name, code and message.',
        'content': {'application/json': {
            'schema': {'$ref': '#/components/schemas/Fault'}}}}
    return responses


def _operation(builder: _Builder, route: router.Route) -> dict:
    op_id = '%s.%s' % (route.controller, route.action)
    operation: dict[str, Any] = {
        'operationId': op_id,
        'tags': [route.controller],
        'summary': '%s %s' % (route.controller,
                              route.action.replace('_', ' ')),
        'parameters': [{'$ref': '#/components/parameters/microversion'}],
    }
    if route.actions:
        operation['description'] = 'Actions: %s.' % ', '.join(
            sorted(route.actions))
    operation['parameters'] += [
        {'name': name, 'in': 'path', 'required': True,
         'schema': {'type': 'string'}}
        for name in _PARAM_RE.findall(route.path)]
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
    for route in router.ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = \
            _operation(builder, route)
    paths[DOCUMENT_PATH] = {'get': {
        'operationId': 'openapi.show', 'tags': ['versions'],
        'summary': 'This document.', 'security': [],
        'responses': {'200': {'description': 'The OpenAPI document.',
                              'content': {'application/json': {
                                  'schema': {'type': 'object'}}}}}}}
    return {
        'openapi': OPENAPI_VERSION,
        'info': {
            'title': 'nova-volmig volume API (Cinder side)',
            'version': microversions.MAX_VERSION,
            'description': (
                'Volume API v3, microversions %s to %s (header '
                '"OpenStack-API-Version: volume <version>"); attachments '
                'need %s. Every path also answers under /v3/{project_id}.'
                % (microversions.MIN_VERSION, microversions.MAX_VERSION,
                   microversions.ATTACHMENTS)),
        },
        'servers': [{'url': '/v3'}],
        'security': [{'token': []}],
        'paths': paths,
        'components': {
            'schemas': dict(sorted(builder.components.items())),
            'parameters': {'microversion': {
                'name': 'OpenStack-API-Version', 'in': 'header',
                'required': False,
                'description': 'volume <major.minor> or volume latest; '
                               '%s when absent.' % microversions.MIN_VERSION,
                'schema': {'type': 'string'},
                'examples': {'latest': {'value': 'volume %s'
                                        % microversions.MAX_VERSION}},
            }},
            'securitySchemes': {'token': {
                'type': 'apiKey', 'in': 'header', 'name': 'X-Auth-Token',
                'description': 'A Keystone token; with auth_strategy '
                               'noauth2, "<user>:<project>".'}},
        },
    }


def dumps() -> str:
    """The document as shipped in doc/source/cinder/openapi.json."""
    return json.dumps(document(), indent=2) + '\n'
