"""/volumes and /volumes/{id}/action.

Requests go to the volume API (``volume.api.API``), which validates them
and calls the manager, as upstream's controllers call cinder.volume.api.
"""

from __future__ import annotations

from oslo_utils import strutils

from cinder_driver_side.api import base
from cinder_driver_side.api import microversions
from cinder_driver_side.api import schemas
from cinder_driver_side.api import validation
from cinder_driver_side.api import views
from cinder_driver_side import exception
from cinder_driver_side.objects import fields
from cinder_driver_side import policies
from cinder_driver_side.volume import api as volume_api
from cinder_driver_side.volume import utils


MIG = fields.VolumeMigrationStatus


def _bool(value) -> bool:
    return strutils.bool_from_string(value, strict=True)


class VolumesController(base.Controller):

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.volume_api = volume_api.API(self.manager)

    def _detail(self, req, volume) -> dict:
        attachments = self.db.attachment_get_all(req.context.elevated(),
                                                 volume_id=volume.id)
        try:
            vtype = self.db.volume_type_get(req.context,
                                            volume.volume_type_id)
        except exception.VolumeTypeNotFound:
            vtype = None
        body = views.volume_detail(req, self.base_url(req), volume,
                                   attachments, vtype, self.enforcer)
        if (body.get('migration_status') == MIG.QUEUED
                and req.api_version >= microversions.MIGRATION_PROGRESS):
            record = self.db.migration_get_latest(req.context.elevated(),
                                                  volume.id)
            body['migration_queue_position'] = \
                self.manager.migration_queue_position(record.id)
        return body

    def _get(self, req, volume_id):
        volume = self.db.volume_get(req.context, volume_id)
        self.authorize(req, 'volume:get', {'project_id': volume.project_id})
        return volume

    def index(self, req, **_kw):
        self.authorize(req, 'volume:get_all')
        volumes = self._list(req)
        base_url = self.base_url(req)
        return 200, {'volumes': [views.volume_summary(base_url, v)
                                 for v in volumes]}

    def detail(self, req, **_kw):
        self.authorize(req, 'volume:get_all')
        return 200, {'volumes': [self._detail(req, v)
                                 for v in self._list(req)]}

    def _list(self, req):
        params = validation.validate_query(req.params,
                                           schemas.volume_index_query)
        all_projects = strutils.bool_from_string(
            params.get('all_tenants') or params.get('all_projects'))
        filters = {}
        for key, column in (('status', 'status'), ('name', 'display_name')):
            if params.get(key):
                filters[column] = params[key]
        return self.db.volume_get_all(req.context,
                                      all_projects=all_projects,
                                      filters=filters)

    def show(self, req, id, **_kw):
        return 200, {'volume': self._detail(req, self._get(req, id))}

    def create(self, req, **_kw):
        body = req.json_body()
        validation.validate(body, schemas.volume_create)
        self.authorize(req, 'volume:create')
        spec = body['volume']
        size_bytes = spec.get('size_bytes')
        if size_bytes is None:
            if spec.get('size') is None:
                raise exception.InvalidInput(
                    reason='size (GiB) or size_bytes is required')
            # The schema bounds it: an int or a short digit string.
            size_bytes = int(spec['size']) * utils.GiB
        multiattach = _bool(spec.get('multiattach', False))
        volume = self.volume_api.create_volume(
            req.context, size_bytes=size_bytes,
            name=spec.get('name', spec.get('display_name')),
            description=spec.get('description',
                                 spec.get('display_description')),
            volume_type=spec.get('volume_type'), multiattach=multiattach,
            availability_zone=spec.get('availability_zone'))
        return 202, {'volume': self._detail(req, volume)}

    def delete(self, req, id, **_kw):
        volume = self._get(req, id)
        self.authorize(req, 'volume:delete',
                       {'project_id': volume.project_id})
        self.volume_api.delete_volume(req.context, volume)
        return 202, None

    def migration(self, req, id, **_kw):
        """The latest migration of a volume (``volmig show``)."""
        self.authorize(req, policies.MIGRATE)
        self._get(req, id)
        record = self.volume_api.get_migration(req.context, id)
        body = views.migration(record)
        if record.status == MIG.QUEUED:
            body['queue_position'] = self.manager.migration_queue_position(
                record.id)
        return 200, {'migration': body}

    def action(self, req, id, **_kw):
        body = req.json_body()
        if len(body) != 1:
            raise exception.InvalidInput(
                reason='an action body has exactly one key')
        name, args = next(iter(body.items()))
        handler = {
            'os-migrate_volume': self._migrate,
            'os-retype': self._retype,
            'os-migrate_volume_completion': self._migrate_completion,
            'os-migrate_volume_cancel': self._migrate_cancel,
        }.get(name)
        if handler is None:
            raise exception.InvalidInput(
                reason='unsupported action %s' % name)
        if name == 'os-migrate_volume_cancel':
            return handler(req, id, args)
        return handler(req, id, args if args is not None else {})

    def _migrate(self, req, volume_id, args):
        validation.validate(
            args, schemas.migrate_volume_v372
            if req.api_version >= microversions.MIGRATION_PROGRESS
            else schemas.migrate_volume)
        self.authorize(req, policies.MIGRATE)
        volume = self._get(req, volume_id)
        self.volume_api.migrate_volume(
            req.context, volume, args['host'],
            force_host_copy=_bool(args.get('force_host_copy', False)),
            lock_volume=_bool(args.get('lock_volume', False)),
            bandwidth=args.get('bandwidth'))
        return 202, None

    def _retype(self, req, volume_id, args):
        validation.validate(args, schemas.retype)
        volume = self._get(req, volume_id)
        self.authorize(req, policies.RETYPE,
                       {'project_id': volume.project_id})
        self.volume_api.retype(req.context, volume, args['new_type'],
                               args.get('migration_policy') or 'never')
        return 202, None

    def _migrate_completion(self, req, volume_id, args):
        validation.validate(args, schemas.migrate_volume_completion)
        self.authorize(req, policies.MIGRATE_COMPLETION)
        error = args.get('error')
        error = bool(error) and strutils.bool_from_string(error)
        save_volume_id = self.volume_api.migrate_volume_completion(
            req.context, volume_id, args['new_volume'], error)
        return 200, {'save_volume_id': save_volume_id}

    def _migrate_cancel(self, req, volume_id, args):
        """Cancel a volume's migration (3.72): 202, or 409 too late."""
        if req.api_version < microversions.MIGRATION_CANCEL:
            raise exception.VersionNotFoundForAPIMethod(
                version=str(req.api_version))
        validation.validate(args, schemas.migrate_volume_cancel)
        self.authorize(req, policies.MIGRATE_CANCEL)
        volume = self._get(req, volume_id)
        self.volume_api.cancel_migration(req.context, volume)
        return 202, None
