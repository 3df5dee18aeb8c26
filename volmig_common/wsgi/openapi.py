"""The skeleton of an API's OpenAPI 3.1 document, shared by both APIs.

Each service builds its paths from what serves it (Nova's router and
``@validation`` decorators, Cinder's route table) and hands them here for
what both documents say alike: the document's own route, the fault
schema, the microversion header, the token security scheme, success and
fault responses, path parameters.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from volmig_common.wsgi import faults

OPENAPI_VERSION = '3.1.0'
#: Where each API serves its document, below its version root.
DOCUMENT_PATH = '/openapi.json'
VERSION_HEADER = 'OpenStack-API-Version'

_PARAM_RE = re.compile(r'{(\w+)}')

_SCHEMA_PREFIX = '#/components/schemas/'


class Components:
    """The ``components.schemas`` a document collects as it refers.

    :param names: ``id(schema) -> name`` of the request schemas that get
        a component of their own; ``Fault`` is always there.
    """

    def __init__(self, names: Mapping[int, str],
                 fault_names: Mapping[int, str]):
        self.names = names
        self.schemas: dict[str, dict] = {
            'Fault': faults.fault_schema(fault_names)}

    def ref(self, schema: dict) -> dict:
        """A ``$ref`` to a named schema (collected), else the schema."""
        name = self.names.get(id(schema))
        if name is None:
            return schema
        self.schemas[name] = schema
        return {'$ref': _SCHEMA_PREFIX + name}


def path_parameters(path: str) -> list[dict]:
    """The ``{name}`` segments of ``path`` as required path parameters."""
    return [{'name': name, 'in': 'path', 'required': True,
             'schema': {'type': 'string'}}
            for name in _PARAM_RE.findall(path)]


def operation(op_id: str, tag: str, summary: str, path: str,
              actions: list[str] | None = None) -> dict:
    """An operation's first fields: its id, tag, summary, parameters.

    The parameters are the microversion header and the path's; the
    caller adds query parameters, request body and responses in turn.
    ``actions`` names what a ``POST .../action`` route takes.
    """
    result: dict[str, Any] = {
        'operationId': op_id,
        'tags': [tag],
        'summary': summary,
        'parameters': [{'$ref': '#/components/parameters/microversion'}],
    }
    if actions:
        result['description'] = 'Actions: %s.' % ', '.join(sorted(actions))
    result['parameters'] += path_parameters(path)
    return result


def success(code: int, body_schema: dict,
            links: dict[str, dict] | None) -> dict:
    """A success response: a JSON body unless 204, and its links."""
    response: dict[str, Any] = {'description': 'Success.'}
    if code != 204:
        response['content'] = {'application/json': {'schema': body_schema}}
    if links:
        response['links'] = links
    return response


def fault() -> dict:
    """The ``4XX`` response: a fault body."""
    return {'description': 'A fault: its name, code and message.',
            'content': {'application/json': {
                'schema': {'$ref': _SCHEMA_PREFIX + 'Fault'}}}}


def document(*, service_type: str, title: str, version: str,
             description: str, server_url: str, min_version: str,
             paths: dict[str, dict], components: Components) -> dict:
    """The whole document around ``paths`` (which gains its own route).

    ``service_type`` is the microversion header's (``compute``,
    ``volume``); ``version`` the latest microversion, ``min_version`` the
    one a request without the header gets.
    """
    paths[DOCUMENT_PATH] = {'get': {
        'operationId': 'openapi.show', 'tags': ['versions'],
        'summary': 'This document.', 'security': [],
        'responses': {'200': {'description': 'The OpenAPI document.',
                              'content': {'application/json': {
                                  'schema': {'type': 'object'}}}}}}}
    return {
        'openapi': OPENAPI_VERSION,
        'info': {'title': title, 'version': version,
                 'description': description},
        'servers': [{'url': server_url}],
        'security': [{'token': []}],
        'paths': paths,
        'components': {
            'schemas': dict(sorted(components.schemas.items())),
            'parameters': {'microversion': {
                'name': VERSION_HEADER, 'in': 'header',
                'required': False,
                'description': '%s <major.minor> or %s latest; %s when '
                               'absent.' % (service_type, service_type,
                                            min_version),
                'schema': {'type': 'string'},
                'examples': {'latest': {
                    'value': '%s %s' % (service_type, version)}},
            }},
            'securitySchemes': {'token': {
                'type': 'apiKey', 'in': 'header', 'name': 'X-Auth-Token',
                'description': 'A Keystone token; with auth_strategy '
                               'noauth2, "<user>:<project>".'}},
        },
    }


def dumps(doc: dict) -> str:
    """``doc`` as the shipped files hold it."""
    return json.dumps(doc, indent=2) + '\n'
