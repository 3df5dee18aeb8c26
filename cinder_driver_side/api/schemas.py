"""JSON schemas of request bodies and query strings.

The limits are those of the database columns (255 characters, 36 for
ids) and of the arrays (sizes), so that a request is refused with a 400
naming the limit before anything is stored (issue 16 items 3, 7, 8). The
validator (``validation.Validator``) also refuses NUL characters in any
string or key: PostgreSQL cannot store them.
"""

from cinder_driver_side.api.validation import NUL_FREE
from cinder_driver_side.volume import utils

# Characters of the string columns (String(255)) and of ids (String(36)).
STRING_MAX = 255
ID_MAX = 36
# Volume sizes: 1 GiB .. 16 TiB; size_bytes in 512 B sectors.
MAX_SIZE_GB = 16384
MIN_SIZE_BYTES = 512
MAX_SIZE_BYTES = MAX_SIZE_GB * utils.GiB
# Keys of one extra-specs, metadata or connector object.
MAX_KEYS = 128


def string(max_length: int = STRING_MAX, min_length: int = 0,
           nullable: bool = False) -> dict:
    """A NUL-free string of at most ``max_length`` characters."""
    schema = {'type': ['string', 'null'] if nullable else 'string',
              'maxLength': max_length, 'pattern': NUL_FREE}
    if min_length:
        schema['minLength'] = min_length
    return schema


def string_map(max_keys: int = MAX_KEYS) -> dict:
    """{key: string}: extra specs and metadata (255 characters each)."""
    return {'type': 'object', 'maxProperties': max_keys,
            'propertyNames': string(min_length=1),
            'additionalProperties': string()}


_uuid = {'type': 'string', 'format': 'uuid', 'minLength': 1,
         'maxLength': ID_MAX, 'pattern': NUL_FREE}
_bool = {'type': ['boolean', 'string'],
         'enum': [True, False, 'True', 'False', 'true', 'false', '1', '0',
                  'yes', 'no', 'on', 'off']}
_name = string(nullable=True)
_string_list = {'type': 'array', 'maxItems': MAX_KEYS, 'items': string()}

# os-brick's connector properties (get_connector_properties) and what
# Nova adds; other keys are allowed (drivers add their own) but bounded.
connector = {
    'type': 'object',
    'properties': {
        'host': string(min_length=1),
        'ip': string(nullable=True),
        'initiator': string(nullable=True),
        'wwpns': _string_list,
        'wwnns': _string_list,
        'host_ips': _string_list,
        'multipath': _bool,
        'enforce_multipath': _bool,
        'do_local_attach': _bool,
        'platform': string(nullable=True),
        'os_type': string(nullable=True),
        'uuid': string(nullable=True),
        'system uuid': string(nullable=True),
        'nqn': string(nullable=True),
        'nvme_hostid': string(nullable=True),
        'mountpoint': string(nullable=True),
        'instance': string(ID_MAX, nullable=True),
        'mode': {'type': 'string', 'enum': ['rw', 'ro']},
    },
    'maxProperties': MAX_KEYS,
    'propertyNames': string(min_length=1),
    'additionalProperties': True,
}

volume_create = {
    'type': 'object',
    'properties': {'volume': {
        'type': 'object',
        'properties': {
            # GiB; digit strings as upstream Cinder accepts them.
            'size': {'type': ['integer', 'string', 'null'],
                     'minimum': 1, 'maximum': MAX_SIZE_GB,
                     'pattern': '^[1-9][0-9]*$',
                     'maxLength': len(str(MAX_SIZE_GB))},
            'size_bytes': {'type': 'integer', 'minimum': MIN_SIZE_BYTES,
                           'maximum': MAX_SIZE_BYTES,
                           'multipleOf': MIN_SIZE_BYTES},
            'name': _name, 'description': _name,
            'display_name': _name, 'display_description': _name,
            'volume_type': _name,
            'multiattach': _bool,
            'availability_zone': _name,
            'metadata': dict(string_map(), type=['object', 'null']),
        },
        'additionalProperties': True,
    }},
    'required': ['volume'],
    'additionalProperties': False,
}

migrate_volume = {
    'type': 'object',
    'properties': {
        'host': string(min_length=1),
        'cluster': _name,
        'force_host_copy': _bool,
        'lock_volume': _bool,
    },
    'required': ['host'],
    'additionalProperties': False,
}

snapshot_create = {
    'type': 'object',
    'properties': {'snapshot': {
        'type': 'object',
        'properties': {
            'volume_id': _uuid,
            'name': _name, 'description': _name,
            'display_name': _name, 'display_description': _name,
            'force': _bool,
            'metadata': dict(string_map(), type=['object', 'null']),
        },
        'required': ['volume_id'],
        'additionalProperties': False,
    }},
    'required': ['snapshot'],
    'additionalProperties': False,
}

#: 3.72 adds a bandwidth limit of the copy (bytes/s; 0 = unlimited)
#: replacing the backends' default for this migration.
migrate_volume_v372 = {
    **migrate_volume,
    'properties': {
        **migrate_volume['properties'],
        'bandwidth': {'type': 'integer', 'minimum': 0,
                      'maximum': 2 ** 53},
    },
}

retype = {
    'type': 'object',
    'properties': {
        'new_type': string(min_length=1),
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

# os-migrate_volume_cancel takes no argument: null or {}.
migrate_volume_cancel = {
    'type': ['object', 'null'],
    'properties': {},
    'additionalProperties': False,
}

attachment_create = {
    'type': 'object',
    'properties': {'attachment': {
        'type': 'object',
        'properties': {
            'volume_uuid': _uuid,
            'instance_uuid': string(ID_MAX, nullable=True),
            'connector': dict(connector, type=['object', 'null']),
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
        'properties': {'connector': connector},
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
            'name': string(min_length=1),
            'description': _name,
            'os-volume-type-access:is_public': _bool,
            'extra_specs': string_map(),
        },
        'required': ['name'],
        'additionalProperties': False,
    }},
    'required': ['volume_type'],
    'additionalProperties': False,
}

extra_specs = {
    'type': 'object',
    'properties': {'extra_specs': string_map()},
    'required': ['extra_specs'],
    'additionalProperties': False,
}

# GET /volumes and /volumes/detail: the filters this API applies; others
# (sort, limit, marker...) are accepted and ignored as before.
volume_index_query = {
    'type': 'object',
    'properties': {
        'name': string(),
        'status': string(),
        'all_tenants': string(),
        'all_projects': string(),
    },
    'additionalProperties': string(),
}

# GET /attachments and /attachments/detail.
attachment_index_query = {
    'type': 'object',
    'properties': {
        'volume_id': string(ID_MAX),
        'instance_id': string(ID_MAX),
    },
    'additionalProperties': string(),
}
