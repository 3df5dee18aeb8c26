"""Default policy rules of cinder-volmig (oslo.policy), Cinder's names."""

from oslo_policy import policy

ADMIN = 'role:admin or role:service'
ADMIN_OR_OWNER = ADMIN + ' or project_id:%(project_id)s'

MIG_STATUS = 'volume_extension:volume_mig_status_attribute'
MIG_PROGRESS = 'volume_extension:volume_mig_progress_attribute'
HOST_ATTRIBUTE = 'volume_extension:volume_host_attribute:host'
MIGRATE = 'volume_extension:volume_admin_actions:migrate_volume'
MIGRATE_COMPLETION = \
    'volume_extension:volume_admin_actions:migrate_volume_completion'
MIGRATE_CANCEL = 'volume_extension:volume_admin_actions:migrate_volume_cancel'
RETYPE = 'volume:retype'
TYPES_MANAGE = 'volume_extension:types_manage'
POOLS = 'scheduler_extension:scheduler_stats:get_pools'


def _rule(name, check_str, description, operations):
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{'method': m, 'path': p} for m, p in operations])


def list_rules():
    return [
        policy.RuleDefault('admin_api', ADMIN,
                           description='Admins and the service user.'),
        policy.RuleDefault('admin_or_owner', ADMIN_OR_OWNER,
                           description='Admins or the owning project.'),
        _rule('volume:create', 'rule:admin_or_owner', 'Create a volume.',
              [('POST', '/volumes')]),
        _rule('volume:get', 'rule:admin_or_owner', 'Show a volume.',
              [('GET', '/volumes/{volume_id}')]),
        _rule('volume:get_all', 'rule:admin_or_owner', 'List volumes.',
              [('GET', '/volumes'), ('GET', '/volumes/detail')]),
        _rule('volume:delete', 'rule:admin_or_owner', 'Delete a volume.',
              [('DELETE', '/volumes/{volume_id}')]),
        _rule(MIG_STATUS, 'rule:admin_api',
              'Show migration_status, os-vol-mig-status-attr:migstat and '
              'name_id in volume details.',
              [('GET', '/volumes/{volume_id}')]),
        _rule(MIG_PROGRESS, 'rule:admin_api',
              'Show migration_progress, bytes done and total, rate, ETA '
              'and bandwidth limit (microversion 3.72) while a volume is '
              'migrating.', [('GET', '/volumes/{volume_id}')]),
        _rule(HOST_ATTRIBUTE, 'rule:admin_api',
              'Show os-vol-host-attr:host in volume details.',
              [('GET', '/volumes/{volume_id}')]),
        _rule(MIGRATE, 'rule:admin_api', 'Migrate a volume to a pool.',
              [('POST', '/volumes/{volume_id}/action (os-migrate_volume)')]),
        _rule(MIGRATE_COMPLETION, 'rule:admin_api',
              'Complete a legacy migration (Nova\'s swap callback).',
              [('POST', '/volumes/{volume_id}/action '
                        '(os-migrate_volume_completion)')]),
        _rule(MIGRATE_CANCEL, 'rule:admin_api',
              'Cancel a running or queued migration of a volume '
              '(microversion 3.72).',
              [('POST', '/volumes/{volume_id}/action '
                        '(os-migrate_volume_cancel)')]),
        _rule(RETYPE, 'rule:admin_or_owner', 'Retype a volume.',
              [('POST', '/volumes/{volume_id}/action (os-retype)')]),
        _rule(TYPES_MANAGE, 'rule:admin_api',
              'Create or delete volume types and their extra specs.',
              [('POST', '/types'), ('DELETE', '/types/{type_id}')]),
        _rule('volume:attachment_create', 'rule:admin_or_owner',
              'Create an attachment.', [('POST', '/attachments')]),
        _rule('volume:attachment_update', 'rule:admin_or_owner',
              'Update (connect) an attachment.',
              [('PUT', '/attachments/{attachment_id}')]),
        _rule('volume:attachment_delete', 'rule:admin_or_owner',
              'Delete an attachment.',
              [('DELETE', '/attachments/{attachment_id}')]),
        _rule('volume:attachment_complete', 'rule:admin_or_owner',
              'Mark an attachment attached.',
              [('POST', '/attachments/{attachment_id}/action')]),
        _rule('volume:create_snapshot', 'rule:admin_or_owner',
              'Create a snapshot of a volume.', [('POST', '/snapshots')]),
        _rule('volume:get_snapshot', 'rule:admin_or_owner',
              'Show a snapshot.', [('GET', '/snapshots/{snapshot_id}')]),
        _rule('volume:get_all_snapshots', 'rule:admin_or_owner',
              'List snapshots.',
              [('GET', '/snapshots'), ('GET', '/snapshots/detail')]),
        _rule('volume:delete_snapshot', 'rule:admin_or_owner',
              'Delete a snapshot.',
              [('DELETE', '/snapshots/{snapshot_id}')]),
        _rule(POOLS, 'rule:admin_api', 'List backend pools.',
              [('GET', '/scheduler-stats/get_pools')]),
    ]
