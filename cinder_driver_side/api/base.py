"""What every controller shares: the manager, the db, the policy."""

from __future__ import annotations

from oslo_config import cfg

from cinder_driver_side import policy
from cinder_driver_side.volume import manager as manager_mod


class Controller:
    def __init__(self, conf: cfg.ConfigOpts,
                 manager: manager_mod.VolumeManager,
                 enforcer: policy.Enforcer):
        self.conf = conf
        self.manager = manager
        self.db = manager.db
        self.enforcer = enforcer

    def base_url(self, req) -> str:
        return (self.conf.public_endpoint or req.host_url).rstrip('/')

    def authorize(self, req, action: str, target: dict | None = None):
        return self.enforcer.authorize(req.context, action, target)
