"""Default rules of /servers/{server_id}/os-volume_attachments."""

from oslo_policy import policy

from nova_volmig.policies import base

POLICY_ROOT = 'os_compute_api:os-volumes-attachments:%s'
PATH = '/servers/{server_id}/os-volume_attachments'


def _rule(name, check_str, description, method, path):
    return policy.DocumentedRuleDefault(
        name=POLICY_ROOT % name, check_str=check_str,
        description=description,
        operations=[{'method': method, 'path': path}],
        scope_types=['project'])


rules = [
    _rule('index', base.ADMIN_OR_OWNER,
          'List the volume attachments of a server.', 'GET', PATH),
    # The service role too: Cinder reads swap_progress while it drives a
    # legacy swap of a volume of any project.
    _rule('show', base.ADMIN_OR_OWNER + ' or role:service',
          'Show a volume attachment of a server.', 'GET',
          PATH + '/{volume_id}'),
    _rule('create', base.ADMIN_OR_OWNER,
          'Attach a volume to a server.', 'POST', PATH),
    _rule('delete', base.ADMIN_OR_OWNER,
          'Detach a volume from a server.', 'DELETE',
          PATH + '/{volume_id}'),
    # Upstream too: swap is meant for Cinder's volume migration only.
    _rule('swap', 'role:admin or role:service',
          'Swap a volume attached to a server for another one (legacy '
          'volume migration, driven by Cinder).', 'PUT',
          PATH + '/{volume_id}'),
]


def list_rules():
    return rules
