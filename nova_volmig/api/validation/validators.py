"""JSON Schema validator with Nova's error messages and format checks.

Draft 2020-12, extended by ``volmig_common.wsgi.validation`` so that the
``type`` keyword also refuses NUL characters in every string and object
key it checks (issue 16 item 8): PostgreSQL cannot store them and would
answer a 500 later.
"""

from __future__ import annotations

import re

import jsonschema

from nova_volmig import exception
from nova_volmig.i18n import _
from volmig_common.wsgi import bodies
from volmig_common.wsgi import validation as common_validation

# Canonical, hyphenated form only: ids are compared as strings later.
_UUID_RE = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                      r'[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')

# Longest rendering of an offending value put in an error message.
MAX_VALUE_CHARS = 200

NUL_MESSAGE = _('It must not contain NUL characters.')

format_checker = jsonschema.FormatChecker(formats=())


@format_checker.checks('uuid')
def _is_uuid(instance) -> bool:
    if not isinstance(instance, str):
        return True  # the "type" keyword reports other types
    return bool(_UUID_RE.match(instance))


def _short(value) -> str:
    return bodies.shorten(value, MAX_VALUE_CHARS)


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator in ('type', 'pattern') and bodies.has_nul(
            error.instance):
        return NUL_MESSAGE
    if error.validator == 'format' and error.validator_value == 'uuid':
        return _('%s is not a valid UUID.') % _short(error.instance)
    if error.validator in ('maxLength', 'pattern', 'const', 'enum',
                           'maxProperties', 'minProperties'):
        # jsonschema repeats the (maybe huge) value in these messages.
        templates = {
            'maxLength': _('It is longer than %(v)s characters.'),
            'pattern': _('It does not match %(v)s.'),
            'const': _('It must be %(v)r.'),
            'enum': _('It must be one of %(v)s.'),
            'maxProperties': _('It has more than %(v)s properties.'),
            'minProperties': _('It has fewer than %(v)s properties.'),
        }
        return templates[error.validator] % {'v': error.validator_value}
    return common_validation.plain_message(error, MAX_VALUE_CHARS)


class SchemaValidator:
    """Validate against a schema; raise ``ValidationError`` (400)."""

    def __init__(self, schema: dict):
        validator_cls = jsonschema.validators.validator_for(
            schema, default=jsonschema.Draft202012Validator)
        validator_cls.check_schema(schema)
        self.validator = common_validation.refusing_nul(
            validator_cls, NUL_MESSAGE)(schema, format_checker=format_checker)

    def validate(self, instance, name: str | None = None) -> None:
        error = jsonschema.exceptions.best_match(
            self.validator.iter_errors(instance))
        if error is None:
            return
        path = list(error.absolute_path)
        field = path[-1] if path else name
        if field is not None:
            detail = _('Invalid input for field/attribute %(path)s. '
                       'Value: %(value)s. %(message)s') % {
                'path': field, 'value': _short(error.instance),
                'message': _message(error)}
        else:
            detail = _message(error)
        raise exception.ValidationError(detail=detail)
