"""Schemas of /servers/{id}/os-volume_attachments."""

import copy

from nova_volmig.api.validation import parameter_types

device = parameter_types.nullable({'type': 'string', 'maxLength': 255,
                                   'pattern': r'^/dev/[a-z0-9]+$'})

create = {
    'type': 'object',
    'properties': {
        'volumeAttachment': {
            'type': 'object',
            'properties': {
                'volumeId': parameter_types.uuid,
                'device': device,
            },
            'required': ['volumeId'],
            'additionalProperties': False,
        },
    },
    'required': ['volumeAttachment'],
    'additionalProperties': False,
}

create_v249 = copy.deepcopy(create)
create_v249['properties']['volumeAttachment']['properties']['tag'] = \
    parameter_types.tag

create_v279 = copy.deepcopy(create_v249)
create_v279['properties']['volumeAttachment']['properties'][
    'delete_on_termination'] = parameter_types.boolean

# Legacy swap (PUT): the new volume only.
update = {
    'type': 'object',
    'properties': {
        'volumeAttachment': {
            'type': 'object',
            'properties': {
                'volumeId': parameter_types.uuid,
            },
            'required': ['volumeId'],
            'additionalProperties': False,
        },
    },
    'required': ['volumeAttachment'],
    'additionalProperties': False,
}
