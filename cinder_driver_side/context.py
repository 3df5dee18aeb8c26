"""Request context of the Cinder side (oslo.context + oslo.db provider)."""

from __future__ import annotations

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade
from oslo_utils import uuidutils

# Roles that act on every project's volumes: admins, and the service user
# Nova calls us with.
PRIVILEGED_ROLES = frozenset({'admin', 'service'})


@enginefacade.transaction_context_provider
class RequestContext(context.RequestContext):
    def __init__(self, *args, roles=None, is_admin=None, **kwargs):
        roles = list(roles or [])
        if is_admin is None:
            is_admin = bool(PRIVILEGED_ROLES.intersection(roles))
        kwargs.setdefault('request_id', 'req-' + uuidutils.generate_uuid())
        super().__init__(*args, roles=roles, is_admin=is_admin, **kwargs)

    def can_see_project(self, project_id: str | None) -> bool:
        return self.is_admin or project_id == self.project_id

    def elevated(self) -> RequestContext:
        ctx = RequestContext(user_id=self.user_id,
                             project_id=self.project_id,
                             roles=list(set(self.roles) | {'admin'}),
                             is_admin=True, request_id=self.request_id,
                             overwrite=False)
        return ctx


def get_admin_context() -> RequestContext:
    """Context of the service's own work (flows, recovery)."""
    return RequestContext(user_id='cinder-volmig', project_id='service',
                          roles=['admin'], is_admin=True, overwrite=False)
