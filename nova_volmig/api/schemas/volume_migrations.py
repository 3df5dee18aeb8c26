"""Schemas of /os-volume-migrations (microversion 2.105, DESIGN 3)."""

from nova_volmig.api.validation import parameter_types
from nova_volmig.objects import fields

STATUSES = fields.VolumeMigrationStatus.ALL

create = {
    'type': 'object',
    'properties': {
        'volume_migration': {
            'type': 'object',
            'properties': {
                'src_attachment_id': parameter_types.uuid,
            },
            'required': ['src_attachment_id'],
            'additionalProperties': False,
        },
    },
    'required': ['volume_migration'],
    'additionalProperties': False,
}

complete = {
    'type': 'object',
    'properties': {
        'complete': {
            'type': 'object',
            'properties': {
                'dst_attachment_id': parameter_types.uuid,
            },
            'required': ['dst_attachment_id'],
            'additionalProperties': False,
        },
    },
    'required': ['complete'],
    'additionalProperties': False,
}

cancel = {
    'type': 'object',
    'properties': {
        # null as DESIGN 3 has it; {} is accepted as other actions are.
        'cancel': {
            'oneOf': [{'type': 'null'},
                      {'type': 'object', 'additionalProperties': False}],
        },
    },
    'required': ['cancel'],
    'additionalProperties': False,
}

index_query = {
    'type': 'object',
    'properties': {
        'instance_uuid': parameter_types.uuid,
        'status': {'type': 'string', 'enum': list(STATUSES)},
    },
    'additionalProperties': False,
}
