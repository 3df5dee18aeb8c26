"""/servers/{server_id}/os-instance-actions[/{request_id}]."""

from nova_volmig.api.openstack.compute.views import instance_actions \
    as views
from nova_volmig.api import wsgi
from nova_volmig.policies import instance_actions as ia_policies
from nova_volmig import policy

POLICY_ROOT = ia_policies.POLICY_ROOT


class InstanceActionsController(wsgi.Controller):

    def __init__(self, compute_api):
        super().__init__()
        self.compute_api = compute_api

    def index(self, req, server_id):
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, POLICY_ROOT % 'list',
                         {'project_id': instance.project_id})
        actions = self.compute_api.get_instance_actions(req.context,
                                                        instance)
        return {'instanceActions': [views.action(req, action)
                                    for action in actions]}

    def show(self, req, server_id, id):
        context = req.context
        instance = self.compute_api.get(context, server_id)
        target = {'project_id': instance.project_id}
        policy.authorize(context, POLICY_ROOT % 'show', target)
        action, events = self.compute_api.get_instance_action(
            context, instance, id)
        body = views.action(req, action)
        may_see_details = policy.can(context, POLICY_ROOT % 'events',
                                     target)
        if req.is_version('2.51') or may_see_details:
            body['events'] = [views.event(req, event, may_see_details)
                              for event in events]
        return {'instanceAction': body}
