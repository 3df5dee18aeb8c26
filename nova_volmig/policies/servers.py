"""Default rules of /servers and its start / stop actions."""

from oslo_policy import policy

from nova_volmig.policies import base

SERVERS = 'os_compute_api:servers:%s'
EXTENDED_ATTRIBUTES = 'os_compute_api:os-extended-server-attributes'


def _rule(name, check_str, description, operations):
    return policy.DocumentedRuleDefault(
        name=SERVERS % name, check_str=check_str, description=description,
        operations=operations, scope_types=['project'])


rules = [
    _rule('index', base.ADMIN_OR_OWNER, 'List servers.',
          [{'method': 'GET', 'path': '/servers'}]),
    _rule('detail', base.ADMIN_OR_OWNER, 'List servers with details.',
          [{'method': 'GET', 'path': '/servers/detail'}]),
    _rule('index:get_all_tenants', base.ADMIN,
          'List the servers of every project (all_tenants).',
          [{'method': 'GET', 'path': '/servers'}]),
    _rule('detail:get_all_tenants', base.ADMIN,
          'List the servers of every project with details (all_tenants).',
          [{'method': 'GET', 'path': '/servers/detail'}]),
    _rule('show', base.ADMIN_OR_OWNER, 'Show a server.',
          [{'method': 'GET', 'path': '/servers/{server_id}'}]),
    _rule('create', base.ADMIN_OR_OWNER, 'Create a server.',
          [{'method': 'POST', 'path': '/servers'}]),
    _rule('delete', base.ADMIN_OR_OWNER, 'Delete a server.',
          [{'method': 'DELETE', 'path': '/servers/{server_id}'}]),
    _rule('start', base.ADMIN_OR_OWNER, 'Start a server.',
          [{'method': 'POST',
            'path': '/servers/{server_id}/action (os-start)'}]),
    _rule('stop', base.ADMIN_OR_OWNER, 'Stop a server.',
          [{'method': 'POST',
            'path': '/servers/{server_id}/action (os-stop)'}]),
    policy.DocumentedRuleDefault(
        name=EXTENDED_ATTRIBUTES,
        check_str=base.ADMIN,
        description='Show the OS-EXT-SRV-ATTR:host, '
                    'OS-EXT-SRV-ATTR:hypervisor_hostname and '
                    'OS-EXT-SRV-ATTR:instance_name attributes of servers.',
        operations=[{'method': 'GET', 'path': '/servers/{server_id}'},
                    {'method': 'GET', 'path': '/servers/detail'}],
        scope_types=['project']),
]


def list_rules():
    return rules
