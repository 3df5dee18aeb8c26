"""Policy enforcement on the Cinder side's own ConfigOpts."""

from __future__ import annotations

from oslo_config import cfg
from oslo_policy import policy

from cinder_driver_side import exception
from cinder_driver_side import policies


class Enforcer:
    """oslo.policy enforcer with cinder-volmig's defaults registered."""

    def __init__(self, conf: cfg.ConfigOpts):
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults(policies.list_rules())

    def authorize(self, context, action: str, target: dict | None = None,
                  *, fatal: bool = True) -> bool:
        target = target or {'project_id': context.project_id}
        creds = context.to_policy_values()
        try:
            return self._enforcer.authorize(
                action, target, creds, do_raise=fatal,
                exc=exception.PolicyNotAuthorized, action=action)
        except policy.InvalidScope:
            if fatal:
                raise exception.PolicyNotAuthorized(action=action)
            return False


def get_enforcer():
    """oslo.policy.enforcer entry point (oslopolicy-policy-generator)."""
    from cinder_driver_side import conf as cinder_conf
    conf = cinder_conf.new_conf()
    conf([], project='cinder-volmig', default_config_files=[])
    return Enforcer(conf)._enforcer
