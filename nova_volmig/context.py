"""Request context of the Nova side (oslo.context + oslo.db provider)."""

from __future__ import annotations

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade
from oslo_utils import uuidutils

# Roles that see and act on every project's resources.
PRIVILEGED_ROLES = frozenset({'admin', 'service'})


@enginefacade.transaction_context_provider
class RequestContext(context.RequestContext):
    """Security context and request information.

    ``is_admin`` is derived from the roles unless given: the ``admin`` and
    ``service`` roles (Cinder calls Nova with the latter) act on every
    project's instances.
    """

    def __init__(self, *args, roles=None, is_admin=None, **kwargs):
        roles = list(roles or [])
        if is_admin is None:
            is_admin = bool(PRIVILEGED_ROLES.intersection(roles))
        kwargs.setdefault('request_id', 'req-' + uuidutils.generate_uuid())
        super().__init__(*args, roles=roles, is_admin=is_admin, **kwargs)

    def can_see_project(self, project_id: str | None) -> bool:
        return self.is_admin or project_id == self.project_id

    def elevated(self) -> RequestContext:
        ctx = self.__class__.from_dict(self.to_dict())
        ctx.is_admin = True
        if 'admin' not in ctx.roles:
            ctx.roles.append('admin')
        return ctx

    @classmethod
    def from_dict(cls, values, **kwargs):
        # oslo.context reads the rest; it knows only the 'user' key, and
        # without 'is_admin' ours is derived from the roles, not False.
        kwargs.setdefault('user_id',
                          values.get('user_id') or values.get('user'))
        kwargs.setdefault('is_admin', values.get('is_admin'))
        return super().from_dict(values, **kwargs)


def get_admin_context(request_id: str | None = None) -> RequestContext:
    """A context for the services' own work (periodic tasks, recovery)."""
    kwargs = {'request_id': request_id} if request_id else {}
    return RequestContext(user_id='nova-volmig', project_id='service',
                          roles=['admin'], is_admin=True, overwrite=False,
                          **kwargs)
