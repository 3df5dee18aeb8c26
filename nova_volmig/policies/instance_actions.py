"""Default rules of /servers/{server_id}/os-instance-actions."""

from oslo_policy import policy

from nova_volmig.policies import base

POLICY_ROOT = 'os_compute_api:os-instance-actions:%s'
PATH = '/servers/{server_id}/os-instance-actions'

rules = [
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'list', check_str=base.ADMIN_OR_OWNER,
        description='List the actions of a server.',
        operations=[{'method': 'GET', 'path': PATH}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'show', check_str=base.ADMIN_OR_OWNER,
        description='Show an action of a server.',
        operations=[{'method': 'GET', 'path': PATH + '/{request_id}'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'events', check_str=base.ADMIN,
        description='Show the events of an action below microversion '
                    '2.51, and the tracebacks of its events at any '
                    'microversion.',
        operations=[{'method': 'GET', 'path': PATH + '/{request_id}'}],
        scope_types=['project']),
]


def list_rules():
    return rules
