"""JSON Schema validation of request bodies and query strings (Cinder's).

Draft 2020-12, extended for hostile input (issue 16):

* ``type`` also refuses NUL characters in every string and object key it
  checks (``volmig_common.wsgi.validation``): PostgreSQL cannot store
  them and would answer a 500 later;
* ``integer`` means a JSON integer: ``1.0`` is not a size;
* messages name the limit that was crossed and never repeat a huge value.

The limits themselves live in ``schemas`` so that they appear in the
API description too.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from cinder_driver_side import exception
from volmig_common.wsgi import bodies
from volmig_common.wsgi import validation as common_validation

# Longest rendering of an offending value put in an error message.
MAX_VALUE_CHARS = 100

NUL_MESSAGE = 'It must not contain NUL characters.'
# The pattern ``schemas`` gives NUL-free strings (for the API description).
NUL_FREE = '^[^\\x00]*$'


def _is_integer(_checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_Base = jsonschema.Draft202012Validator

Validator = common_validation.refusing_nul(
    _Base, NUL_MESSAGE,
    type_checker=_Base.TYPE_CHECKER.redefine('integer', _is_integer))


def _short(value: Any) -> str:
    return bodies.shorten(value, MAX_VALUE_CHARS)


_TEMPLATES = {
    'maxLength': 'It is longer than %(v)s characters.',
    'minLength': 'It is shorter than %(v)s characters.',
    'maximum': 'It must be at most %(v)s.',
    'minimum': 'It must be at least %(v)s.',
    'multipleOf': 'It must be a multiple of %(v)s.',
    'maxItems': 'It has more than %(v)s items.',
    'maxProperties': 'It has more than %(v)s properties.',
    'pattern': 'It does not match %(v)s.',
    'enum': 'It must be one of %(v)s.',
}


def _message(error: jsonschema.ValidationError) -> str:
    if 'propertyNames' in error.schema_path:
        # The error is about a key of the object at error.path.
        return 'Key %s: %s' % (_short(error.instance),
                               _message_of_value(error))
    return _message_of_value(error)


def _message_of_value(error: jsonschema.ValidationError) -> str:
    if error.validator == 'pattern' and error.validator_value == NUL_FREE:
        return NUL_MESSAGE
    if error.validator in _TEMPLATES:
        # jsonschema repeats the (maybe huge) value in these messages.
        return _TEMPLATES[error.validator] % {
            'v': _short(error.validator_value)}
    return common_validation.plain_message(error, MAX_VALUE_CHARS)


def validate(instance: Any, schema: dict, name: str = 'body') -> None:
    """Validate ``instance``; raise ValidationError (400) naming the limit.

    ``jsonschema.Draft202012Validator.iter_errors`` underneath, via the
    extended ``Validator`` above.
    """
    error = jsonschema.exceptions.best_match(
        Validator(schema).iter_errors(
            instance))
    if error is None:
        return
    where = '/'.join(str(p) for p in error.absolute_path) or name
    raise exception.ValidationError(
        detail='Invalid input for field/attribute %s. %s'
        % (_short(where), _message(error)))


def validate_query(params, schema: dict) -> dict[str, str]:
    """Validate a query string (webob MultiDict) as a flat object."""
    try:
        flat = {key: value for key, value in params.items()}
    except UnicodeDecodeError:
        raise exception.ValidationError(
            detail='The query string is not valid UTF-8.')
    validate(flat, schema, name='query')
    return flat
