"""The fault body both APIs answer errors with, after Nova and Cinder.

``{"itemNotFound": {"code": 404, "message": "..."}}``: one key, the
fault's name, looked up by HTTP status in the service's own table (the
two differ, e.g. on 409), ``computeFault`` for any status not in it.
"""

from __future__ import annotations

from typing import Callable, Mapping

#: ``(code, message) -> dict``: the JSON body of one fault.
FaultBody = Callable[[int, str], dict]

#: Name of a fault whose status has no name of its own (both upstreams).
DEFAULT_NAME = 'computeFault'


def fault_body(names: Mapping[int, str], code: int, message: str) -> dict:
    """The fault ``{name: {"code": code, "message": message}}``."""
    return {names.get(code, DEFAULT_NAME): {'code': code,
                                            'message': message}}


def fault_schema(names: Mapping[int, str]) -> dict:
    """The JSON schema of every fault body a table of names gives."""
    return {
        'type': 'object',
        'minProperties': 1, 'maxProperties': 1,
        'propertyNames': {'enum': sorted({*names.values(), DEFAULT_NAME})},
        'additionalProperties': {
            'type': 'object',
            'properties': {'code': {'type': 'integer'},
                           'message': {'type': 'string'}},
            'required': ['code', 'message'],
        },
    }
