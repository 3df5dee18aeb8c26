"""Default rules of /os-volume-migrations (microversion 2.105).

Cinder drives volume migrations with a service token; administrators may
drive them by hand. Nobody else: a migration suspends an instance's writes.
"""

from oslo_policy import policy

from nova_volmig.policies import base

POLICY_ROOT = 'os_compute_api:os-volume-migrations:%s'
PATH = '/os-volume-migrations'


def _rule(name, description, method, path):
    return policy.DocumentedRuleDefault(
        name=POLICY_ROOT % name, check_str=base.SERVICE_OR_ADMIN,
        description=description,
        operations=[{'method': method, 'path': path}],
        scope_types=['project'])


rules = [
    _rule('start', 'Start the migration of an attached volume: stop '
          'writes to the source attachment.', 'POST', PATH),
    _rule('show', 'Show the latest migration of a source attachment.',
          'GET', PATH + '/{src_attachment_id}'),
    _rule('list', 'List volume migrations.', 'GET', PATH),
    _rule('complete', 'Complete a volume migration: switch the instance '
          'to the destination attachment.', 'POST',
          PATH + '/{src_attachment_id}/action (complete)'),
    _rule('cancel', 'Cancel a volume migration: resume writes to the '
          'source attachment.', 'POST',
          PATH + '/{src_attachment_id}/action (cancel)'),
]


def list_rules():
    return rules
