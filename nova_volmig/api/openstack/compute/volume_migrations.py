"""/os-volume-migrations: start, show, list, complete and cancel.

Microversion 2.105 (DESIGN 3). Migrations are keyed by their source
attachment; the compute API owns every state check and answers 404 for an
attachment of another project to a non-admin caller.
"""

from nova_volmig.api import api_version_request
from nova_volmig.api.openstack import common
from nova_volmig.api.openstack.compute.views import volume_migrations \
    as views
from nova_volmig.api.schemas import volume_migrations as schema
from nova_volmig.api import validation
from nova_volmig.api import wsgi
from nova_volmig.policies import volume_migrations as vm_policies
from nova_volmig import policy

POLICY_ROOT = vm_policies.POLICY_ROOT
COLLECTION = 'os-volume-migrations'


class VolumeMigrationsController(wsgi.Controller):

    min_api_version = api_version_request.VOLUME_MIGRATION_VERSION

    def __init__(self, compute_api):
        super().__init__()
        self.compute_api = compute_api

    @wsgi.response(201)
    @validation.schema(schema.create)
    def create(self, req, body):
        """Start: return only once nothing more is written to src."""
        src_attachment_id = body['volume_migration']['src_attachment_id']
        policy.authorize(req.context, POLICY_ROOT % 'start')
        migration = self.compute_api.volume_migration_start(
            req.context, src_attachment_id)
        return wsgi.ResponseObject(
            {'volume_migration': views.record(migration)},
            headers={'Location': common.self_url(
                req, COLLECTION, migration.src_attachment_id)})

    def show(self, req, id):
        validation.check_uuid(id, 'src_attachment_id')
        policy.authorize(req.context, POLICY_ROOT % 'show')
        migration = self.compute_api.volume_migration_get(req.context, id)
        return {'volume_migration': views.record(migration)}

    @validation.query_schema(schema.index_query)
    def index(self, req):
        policy.authorize(req.context, POLICY_ROOT % 'list')
        params = validation.single_valued_params(req)
        migrations = self.compute_api.volume_migration_list(
            req.context, instance_uuid=params.get('instance_uuid'),
            status=params.get('status'))
        return {'volume_migrations': [views.record(migration)
                                      for migration in migrations]}

    @wsgi.response(202)
    @wsgi.action('complete')
    @validation.schema(schema.complete)
    def _complete(self, req, id, body):
        """Complete: return once src may be released."""
        validation.check_uuid(id, 'src_attachment_id')
        policy.authorize(req.context, POLICY_ROOT % 'complete')
        self.compute_api.volume_migration_complete(
            req.context, id, body['complete']['dst_attachment_id'])

    @wsgi.response(202)
    @wsgi.action('cancel')
    @validation.schema(schema.cancel)
    def _cancel(self, req, id, body):
        """Cancel: answer at once; writes go back to src asynchronously."""
        validation.check_uuid(id, 'src_attachment_id')
        policy.authorize(req.context, POLICY_ROOT % 'cancel')
        self.compute_api.volume_migration_cancel(req.context, id)
