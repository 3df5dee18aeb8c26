"""Checks of decoded JSON request bodies that JSON Schema can't express.

``json.loads`` accepts strings no encoder, database driver or log handler
will take (an unpaired ``\\ud800`` escape) and, in any string or key, NUL
characters PostgreSQL cannot store. Both APIs refuse those with a 400
before any handler sees them.
"""

from __future__ import annotations

from typing import Any


def has_lone_surrogate(value: Any) -> bool:
    """True if a string (key or value) in ``value`` can't be UTF-8.

    ``json.loads`` decodes an unpaired ``\\ud800`` escape into a str that
    ``str.encode('utf-8')`` refuses. Iterative: the nesting depth is
    bounded by the parser, not by this walk.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode('utf-8')
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def has_nul(instance: Any) -> bool:
    """A NUL in a string, or in a key of an object (one level only).

    The JSON Schema validators call it on every instance whose ``type``
    they check, so every level of a body is reached that way.
    """
    if isinstance(instance, str):
        return '\x00' in instance
    if isinstance(instance, dict):
        return any('\x00' in key for key in instance)
    return False


def shorten(value: Any, limit: int) -> str:
    """``value`` as an error message shows it: NUL visible, short.

    At most ``limit`` characters (plus '...'): a huge value is never
    echoed back.
    """
    text = value if isinstance(value, str) else repr(value)
    text = text.replace('\x00', '\\x00')
    if len(text) > limit:
        text = text[:limit] + '...'
    return text
