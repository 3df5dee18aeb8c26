"""JSON Schema validators hardened for hostile input (issue 16).

Both APIs validate with Draft 2020-12 (``jsonschema``) extended so that
the ``type`` keyword also refuses NUL characters in every string and
object key it checks: PostgreSQL cannot store them and would answer a
500 later. The messages stay each service's own.
"""

from __future__ import annotations

import jsonschema

from volmig_common.wsgi import bodies


def refusing_nul(validator_cls: type, message: str, **extend_kwargs
                 ) -> type:
    """``validator_cls`` whose ``type`` keyword also refuses NUL.

    ``jsonschema.validators.extend`` underneath; ``extend_kwargs`` go to
    it too (a ``type_checker`` for instance). ``message`` is the error's.
    """
    draft_type = validator_cls.VALIDATORS['type']

    def type_without_nul(validator, types, instance, schema):
        errors = list(draft_type(validator, types, instance, schema))
        yield from errors
        if not errors and bodies.has_nul(instance):
            yield jsonschema.ValidationError(message)

    return jsonschema.validators.extend(
        validator_cls, validators={'type': type_without_nul},
        **extend_kwargs)


def plain_message(error: jsonschema.ValidationError, limit: int) -> str:
    """jsonschema's own message, shortened if it echoes a huge value."""
    if len(error.message) > 4 * limit:
        return bodies.shorten(error.message, limit)
    return error.message
