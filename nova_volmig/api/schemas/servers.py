"""Schemas of /servers and their start / stop actions."""

from nova_volmig.api.validation import parameter_types

# What python-novaclient and openstacksdk send on a plain boot: the keys
# this deployment cannot honour (key pairs, user data, networks, block
# device mappings...) are not accepted, so that nothing is silently
# ignored.
create = {
    'type': 'object',
    'properties': {
        'server': {
            'type': 'object',
            'properties': {
                'name': parameter_types.name,
                'flavorRef': parameter_types.reference,
                # A directory name under [libvirt] images_path: no path
                # separators and no "." or "..", which would leave it.
                'imageRef': {'type': 'string', 'maxLength': 255,
                             'pattern': r'^[^\x00-\x1f\x7f/\\]*$',
                             'not': {'enum': ['.', '..']}},
                'availability_zone': parameter_types.reference,
                'min_count': parameter_types.single_count,
                'max_count': parameter_types.single_count,
                # No networking: only "none", "auto" or an empty list.
                'networks': {
                    'oneOf': [{'type': 'string', 'enum': ['none', 'auto']},
                              {'type': 'array', 'maxItems': 0}],
                },
                'description': {'type': ['string', 'null'],
                                'maxLength': 255,
                                'pattern': r'^[^\x00]*$'},
                'metadata': {'type': 'object', 'maxProperties': 0},
            },
            'required': ['name'],
            'additionalProperties': False,
        },
    },
    'required': ['server'],
    'additionalProperties': False,
}

# Nova's query schemas of old routes let unknown filters through (still
# NUL-free: the validator checks every key and string).
index_query = {
    'type': 'object',
    'properties': {
        'all_tenants': parameter_types.query_boolean,
        'project_id': parameter_types.reference,
        'tenant_id': parameter_types.reference,
        'limit': parameter_types.non_negative_integer_string,
    },
    'additionalProperties': {'type': 'string'},
}

start = {
    'type': 'object',
    'properties': {'os-start': {'type': 'null'}},
    'required': ['os-start'],
    'additionalProperties': False,
}

stop = {
    'type': 'object',
    'properties': {'os-stop': {'type': 'null'}},
    'required': ['os-stop'],
    'additionalProperties': False,
}
