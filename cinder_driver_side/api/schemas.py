"""JSON schemas of request bodies."""

_uuid = {'type': 'string', 'format': 'uuid', 'minLength': 1,
         'maxLength': 36}
_bool = {'type': ['boolean', 'string'],
         'enum': [True, False, 'True', 'False', 'true', 'false', '1', '0',
                  'yes', 'no', 'on', 'off']}
_name = {'type': ['string', 'null'], 'maxLength': 255}

volume_create = {
    'type': 'object',
    'properties': {'volume': {
        'type': 'object',
        'properties': {
            'size': {'type': ['integer', 'string', 'null'],
                     'pattern': '^[0-9]+$', 'minimum': 1},
            'size_bytes': {'type': 'integer', 'minimum': 512},
            'name': _name, 'description': _name,
            'display_name': _name, 'display_description': _name,
            'volume_type': {'type': ['string', 'null']},
            'multiattach': _bool,
            'availability_zone': {'type': ['string', 'null']},
            'metadata': {'type': ['object', 'null']},
        },
        'additionalProperties': True,
    }},
    'required': ['volume'],
    'additionalProperties': False,
}

migrate_volume = {
    'type': 'object',
    'properties': {
        'host': {'type': 'string', 'minLength': 1, 'maxLength': 255},
        'cluster': {'type': ['string', 'null']},
        'force_host_copy': _bool,
        'lock_volume': _bool,
    },
    'required': ['host'],
    'additionalProperties': False,
}

retype = {
    'type': 'object',
    'properties': {
        'new_type': {'type': 'string', 'minLength': 1},
        'migration_policy': {'type': ['string', 'null'],
                             'enum': ['on-demand', 'never', None]},
    },
    'required': ['new_type'],
    'additionalProperties': False,
}

migrate_volume_completion = {
    'type': 'object',
    'properties': {
        'new_volume': _uuid,
        'error': {'type': ['boolean', 'string', 'null']},
    },
    'required': ['new_volume'],
    'additionalProperties': False,
}

attachment_create = {
    'type': 'object',
    'properties': {'attachment': {
        'type': 'object',
        'properties': {
            'volume_uuid': _uuid,
            'instance_uuid': {'type': ['string', 'null']},
            'connector': {'type': ['object', 'null']},
            'mode': {'type': 'string', 'enum': ['rw', 'ro']},
        },
        'required': ['volume_uuid'],
        'additionalProperties': False,
    }},
    'required': ['attachment'],
    'additionalProperties': False,
}

attachment_update = {
    'type': 'object',
    'properties': {'attachment': {
        'type': 'object',
        'properties': {'connector': {'type': 'object'}},
        'required': ['connector'],
        'additionalProperties': False,
    }},
    'required': ['attachment'],
    'additionalProperties': False,
}

type_create = {
    'type': 'object',
    'properties': {'volume_type': {
        'type': 'object',
        'properties': {
            'name': {'type': 'string', 'minLength': 1, 'maxLength': 255},
            'description': _name,
            'os-volume-type-access:is_public': _bool,
            'extra_specs': {'type': 'object',
                            'additionalProperties': {'type': 'string'}},
        },
        'required': ['name'],
        'additionalProperties': False,
    }},
    'required': ['volume_type'],
    'additionalProperties': False,
}

extra_specs = {
    'type': 'object',
    'properties': {'extra_specs': {
        'type': 'object', 'additionalProperties': {'type': 'string'}}},
    'required': ['extra_specs'],
    'additionalProperties': False,
}
