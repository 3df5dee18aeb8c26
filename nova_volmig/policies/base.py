"""Check strings shared by the default rules."""

from oslo_policy import policy

ADMIN = 'role:admin'
ADMIN_OR_OWNER = 'role:admin or project_id:%(project_id)s'
SERVICE_OR_ADMIN = 'role:service or role:admin'

rules = [
    policy.RuleDefault(
        name='context_is_admin',
        check_str=ADMIN,
        description='Decides what is an administrator.'),
]


def list_rules():
    return rules
