"""Instance action bodies, as upstream shapes them."""

from nova_volmig.api.openstack import common


def action(req, instance_action) -> dict:
    body = {
        'action': instance_action.action,
        'instance_uuid': instance_action.instance_uuid,
        'request_id': instance_action.request_id,
        'user_id': instance_action.user_id,
        'project_id': instance_action.project_id,
        'start_time': common.isotime_micro(instance_action.start_time),
        'message': instance_action.message,
    }
    if req.is_version('2.58'):
        body['updated_at'] = common.isotime_micro(
            instance_action.updated_at or instance_action.start_time)
    return body


def event(req, instance_event, show_traceback: bool) -> dict:
    body = {
        'event': instance_event.event,
        'start_time': common.isotime_micro(instance_event.start_time),
        'finish_time': common.isotime_micro(instance_event.finish_time),
        'result': instance_event.result,
    }
    if show_traceback:
        body['traceback'] = instance_event.traceback
    if req.is_version('2.84'):
        body['details'] = instance_event.details
    return body
