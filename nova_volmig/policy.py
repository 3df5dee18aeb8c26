"""Policy enforcement of the compute API (oslo.policy).

``get_enforcer`` is the ``oslo.policy.enforcer`` entry point used by
``oslopolicy-checker`` and friends; ``authorize`` is what controllers call.
Rules may be overridden with ``[oslo_policy] policy_file``.
"""

from __future__ import annotations

import threading

from oslo_config import cfg
from oslo_policy import policy

from nova_volmig import exception
from nova_volmig import policies

CONF = cfg.CONF

_ENFORCER: policy.Enforcer | None = None
_LOCK = threading.Lock()


def init(conf: cfg.ConfigOpts | None = None) -> policy.Enforcer:
    """Create the enforcer once and register the default rules."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is None:
            enforcer = policy.Enforcer(conf or CONF)
            enforcer.register_defaults(policies.list_rules())
            _ENFORCER = enforcer
        return _ENFORCER


def reset() -> None:
    """Forget the enforcer (tests; a changed policy_file option)."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is not None:
            _ENFORCER.clear()
        _ENFORCER = None


def get_enforcer() -> policy.Enforcer:
    """Entry point of the oslo.policy command line tools."""
    # The tools parse their own arguments; keep ours out of the way.
    if not CONF._args:  # noqa: SLF001 - as Nova's get_enforcer does
        CONF([], project='nova-volmig')
    return init()


def authorize(context, action: str, target: dict | None = None) -> bool:
    """Enforce ``action``; raise ``PolicyNotAuthorized`` (403) on denial.

    The default target is the caller's own project, as in Nova.
    """
    if target is None:
        target = {'project_id': context.project_id,
                  'user_id': context.user_id}
    return init().authorize(action, target, context, do_raise=True,
                            exc=exception.PolicyNotAuthorized,
                            action=action)


def check_is_admin(context) -> bool:
    return init().authorize('context_is_admin', {}, context)


def can(context, action: str, target: dict | None = None) -> bool:
    """Like :func:`authorize` but answer False instead of raising."""
    try:
        return authorize(context, action, target)
    except exception.PolicyNotAuthorized:
        return False
