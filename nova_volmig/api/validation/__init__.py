"""Request validation with JSON Schema, per microversion (Nova's).

Stack several ``@schema`` decorators on one method for schemas that differ
between microversions; each checks the body only for requests in its
[min_version, max_version] range.
"""

from __future__ import annotations

import functools
from typing import Callable

from nova_volmig.api.validation import validators
from nova_volmig import exception
from nova_volmig.i18n import _


def schema(request_body_schema: dict, min_version: str | None = None,
           max_version: str | None = None) -> Callable:
    """Validate the ``body`` keyword argument against a JSON Schema.

    The method keeps its schemas in ``request_body_schemas`` (a list of
    ``(schema, min_version, max_version)``) for the OpenAPI generator.
    """
    validator = validators.SchemaValidator(request_body_schema)

    def decorator(func):
        @functools.wraps(func)
        def wrapper(self, req, *args, **kwargs):
            if req.api_version_request.matches(min_version, max_version):
                body = kwargs.get('body')
                if body is None and 'null' not in _types(
                        request_body_schema):
                    raise exception.ValidationError(
                        detail=_('A request body is required.'))
                validator.validate(body)
            return func(self, req, *args, **kwargs)
        _record(wrapper, 'request_body_schemas', request_body_schema,
                min_version, max_version)
        return wrapper
    return decorator


def query_schema(query_params_schema: dict, min_version: str | None = None,
                 max_version: str | None = None) -> Callable:
    """Validate the query string; each parameter may appear once.

    Recorded in ``query_schemas`` as :func:`schema` records bodies.
    """
    validator = validators.SchemaValidator(query_params_schema)

    def decorator(func):
        @functools.wraps(func)
        def wrapper(self, req, *args, **kwargs):
            if req.api_version_request.matches(min_version, max_version):
                validator.validate(single_valued_params(req))
            return func(self, req, *args, **kwargs)
        _record(wrapper, 'query_schemas', query_params_schema, min_version,
                max_version)
        return wrapper
    return decorator


def _record(wrapper: Callable, attribute: str, schema_: dict,
            min_version: str | None, max_version: str | None) -> None:
    # functools.wraps shared the inner decorator's list: build a new one.
    wrapper.__dict__[attribute] = [
        *getattr(wrapper, attribute, []),
        (schema_, min_version, max_version)]


def single_valued_params(req) -> dict[str, str]:
    """The query parameters as a flat dict; 400 on repeats or bad bytes."""
    try:
        params = req.GET.dict_of_lists()
    except UnicodeDecodeError:
        raise exception.ValidationError(
            detail=_('The query string is not valid UTF-8.'))
    repeated = sorted(key for key, values in params.items()
                      if len(values) > 1)
    if repeated:
        raise exception.ValidationError(
            detail=_('Query parameter %s may be given only once.')
            % ', '.join(repeated))
    return {key: values[0] for key, values in params.items()}


def check_uuid(value: str, name: str) -> str:
    """Validate an id taken from the URL path; 400 when not a UUID."""
    validators.SchemaValidator({'type': 'string', 'format': 'uuid'}) \
        .validate(value, name=name)
    return value


def _types(body_schema: dict) -> list[str]:
    declared = body_schema.get('type', [])
    return [declared] if isinstance(declared, str) else list(declared)
