"""The routes of the volume API: path, method, handler, schemas.

Data only: the router (``api.router``) connects them to the controllers
and the OpenAPI document (``api.openapi``) is built from them, so
neither module imports the other.
"""

from __future__ import annotations

from typing import NamedTuple

from cinder_driver_side.api import schemas


class Route(NamedTuple):
    """One route of the volume API, below ``/v3[/{project_id}]``.

    ``body`` is the JSON schema the handler validates the request body
    with; for ``.../action`` routes, ``{action name: schema of its
    argument}``. ``query`` names the query parameters the handler reads.
    The OpenAPI document (``cinder_driver_side.api.openapi``) is built
    from these; a unit test checks each schema is the handler's own.
    """

    path: str
    controller: str
    method: str
    action: str
    body: dict | None = None
    actions: dict[str, dict] | None = None
    query: tuple[str, ...] = ()


# Any value: os-complete takes no argument and ignores what it is given.
_ANY: dict = {}

ROUTES: tuple[Route, ...] = (
    Route('/volumes', 'volumes', 'GET', 'index',
          query=('all_tenants', 'all_projects', 'status', 'name')),
    Route('/volumes', 'volumes', 'POST', 'create',
          body=schemas.volume_create),
    Route('/volumes/detail', 'volumes', 'GET', 'detail',
          query=('all_tenants', 'all_projects', 'status', 'name')),
    Route('/volumes/{id}', 'volumes', 'GET', 'show'),
    Route('/volumes/{id}', 'volumes', 'DELETE', 'delete'),
    Route('/volumes/{id}/action', 'volumes', 'POST', 'action', actions={
        'os-migrate_volume': schemas.migrate_volume_v372,
        'os-retype': schemas.retype,
        'os-migrate_volume_completion': schemas.migrate_volume_completion,
        'os-migrate_volume_cancel': schemas.migrate_volume_cancel,
    }),
    Route('/volumes/{id}/migration', 'volumes', 'GET', 'migration'),
    Route('/attachments', 'attachments', 'GET', 'index',
          query=('volume_id', 'instance_id')),
    Route('/attachments', 'attachments', 'POST', 'create',
          body=schemas.attachment_create),
    Route('/attachments/detail', 'attachments', 'GET', 'detail',
          query=('volume_id', 'instance_id')),
    Route('/attachments/{id}', 'attachments', 'GET', 'show'),
    Route('/attachments/{id}', 'attachments', 'PUT', 'update',
          body=schemas.attachment_update),
    Route('/attachments/{id}', 'attachments', 'DELETE', 'delete'),
    Route('/attachments/{id}/action', 'attachments', 'POST', 'action',
          actions={'os-complete': _ANY}),
    Route('/types', 'types', 'GET', 'index'),
    Route('/types', 'types', 'POST', 'create', body=schemas.type_create),
    Route('/types/{id}', 'types', 'GET', 'show'),
    Route('/types/{id}', 'types', 'DELETE', 'delete'),
    Route('/types/{type_id}/extra_specs', 'types', 'GET',
          'extra_specs_index'),
    Route('/types/{type_id}/extra_specs', 'types', 'POST',
          'extra_specs_create', body=schemas.extra_specs),
    Route('/types/{type_id}/extra_specs/{key}', 'types', 'DELETE',
          'extra_specs_delete'),
    Route('/scheduler-stats/get_pools', 'types', 'GET', 'pools',
          query=('detail',)),
    Route('/snapshots', 'snapshots', 'GET', 'index',
          query=('all_tenants', 'all_projects', 'volume_id')),
    Route('/snapshots', 'snapshots', 'POST', 'create',
          body=schemas.snapshot_create),
    Route('/snapshots/detail', 'snapshots', 'GET', 'detail',
          query=('all_tenants', 'all_projects', 'volume_id')),
    Route('/snapshots/{id}', 'snapshots', 'GET', 'show'),
    Route('/snapshots/{id}', 'snapshots', 'DELETE', 'delete'),
)
