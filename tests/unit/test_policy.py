"""Default policy rules, policy file overrides, the generated sample."""

import os
from unittest import mock

from oslo_policy import generator
from oslo_policy import opts as policy_opts
import yaml

from nova_volmig import context
from nova_volmig import exception
from nova_volmig import policies
from nova_volmig import policy
from tests import base

SAMPLE = os.path.join(os.path.dirname(__file__), '..', '..', 'etc',
                      'nova-volmig-policy.yaml.sample')

VOLUME_MIGRATION_RULES = [
    'os_compute_api:os-volume-migrations:%s' % name
    for name in ('start', 'show', 'list', 'complete', 'cancel')]


def ctx(roles, project='p1', user='u1'):
    return context.RequestContext(user_id=user, project_id=project,
                                  roles=list(roles))


class PolicyTest(base.TestCase):

    def setUp(self):
        super().setUp()
        policy.reset()
        self.addCleanup(policy.reset)

    def test_volume_migration_defaults_are_service_or_admin(self):
        rules = {r.name: r for r in policies.list_rules()}
        for name in VOLUME_MIGRATION_RULES:
            self.assertEqual('role:service or role:admin',
                             rules[name].check_str)
            self.assertTrue(policy.authorize(ctx(['service']), name))
            self.assertTrue(policy.authorize(ctx(['admin']), name))
            for roles in ([], ['member'], ['reader'], ['member', 'reader']):
                self.assertRaises(exception.PolicyNotAuthorized,
                                  policy.authorize, ctx(roles), name)

    def test_owner_rules(self):
        target = {'project_id': 'p1'}
        for name in ('os_compute_api:servers:show',
                     'os_compute_api:servers:start',
                     'os_compute_api:os-volumes-attachments:create',
                     'os_compute_api:os-instance-actions:list'):
            self.assertTrue(policy.authorize(ctx(['member']), name, target))
            self.assertTrue(policy.authorize(ctx(['admin'], 'p2'), name,
                                             target))
            self.assertRaises(exception.PolicyNotAuthorized,
                              policy.authorize, ctx(['member'], 'p2'),
                              name, target)

    def test_admin_only_rules(self):
        for name in ('os_compute_api:os-extended-server-attributes',
                     'os_compute_api:os-instance-actions:events',
                     'os_compute_api:servers:index:get_all_tenants'):
            self.assertTrue(policy.authorize(ctx(['admin']), name))
            self.assertFalse(policy.can(ctx(['member']), name))
            self.assertFalse(policy.can(ctx(['service']), name))

    def test_swap_is_admin_or_service(self):
        name = 'os_compute_api:os-volumes-attachments:swap'
        target = {'project_id': 'p1'}
        self.assertTrue(policy.authorize(ctx(['service'], 'svc'), name,
                                         target))
        self.assertTrue(policy.authorize(ctx(['admin'], 'p2'), name,
                                         target))
        self.assertFalse(policy.can(ctx(['member']), name, target))

    def test_attachment_show_is_owner_admin_or_service(self):
        # Cinder's service user polls swap_progress of any project's BDM.
        name = 'os_compute_api:os-volumes-attachments:show'
        target = {'project_id': 'p1'}
        self.assertTrue(policy.authorize(ctx(['member']), name, target))
        self.assertTrue(policy.authorize(ctx(['service'], 'svc'), name,
                                         target))
        self.assertTrue(policy.authorize(ctx(['admin'], 'p2'), name,
                                         target))
        self.assertFalse(policy.can(ctx(['member'], 'p2'), name, target))

    def test_denial_message_names_the_rule(self):
        error = self.assertRaises(exception.PolicyNotAuthorized,
                                  policy.authorize, ctx(['member']),
                                  VOLUME_MIGRATION_RULES[0])
        self.assertEqual(403, error.code)
        self.assertIn(VOLUME_MIGRATION_RULES[0], error.format_message())

    def test_unregistered_rule_is_an_error(self):
        from oslo_policy import policy as oslo_policy
        self.assertRaises(oslo_policy.PolicyNotRegistered,
                          policy.authorize, ctx(['admin']), 'no:such:rule')

    def test_policy_file_overrides(self):
        path = self.state_file('policy.yaml')
        with open(path, 'w') as f:
            yaml.safe_dump({VOLUME_MIGRATION_RULES[0]: 'role:member'}, f)
        policy_opts.set_defaults(self.conf.conf)
        self.flags(group='oslo_policy', policy_file=path)
        self.assertTrue(policy.authorize(ctx(['member']),
                                         VOLUME_MIGRATION_RULES[0]))
        self.assertFalse(policy.can(ctx(['service']),
                                    VOLUME_MIGRATION_RULES[0]))
        # Rules the file does not name keep their defaults.
        self.assertFalse(policy.can(ctx(['member']),
                                    VOLUME_MIGRATION_RULES[1]))

    def test_every_rule_is_documented(self):
        for rule in policies.list_rules():
            self.assertTrue(rule.description, rule.name)

    def test_sample_is_current(self):
        """etc/ holds what the generator makes now (make genpolicy)."""
        out = self.state_file('sample.yaml')
        with mock.patch.object(generator, 'get_policies_dict',
                               return_value={'nova_volmig':
                                             policies.list_rules()}):
            generator._generate_sample(['nova_volmig'], output_path=out)
        with open(out) as f:
            generated = f.read()
        with open(SAMPLE) as f:
            self.assertEqual(
                generated, f.read(),
                'Regenerate the sample: oslopolicy-sample-generator '
                '--namespace nova_volmig --output-file %s' % SAMPLE)

    def test_get_enforcer_entry_point(self):
        enforcer = policy.get_enforcer()
        self.assertIn(VOLUME_MIGRATION_RULES[0], enforcer.registered_rules)
