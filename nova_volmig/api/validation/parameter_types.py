"""Reusable JSON Schema fragments (Nova's ``parameter_types``)."""

import copy

uuid = {'type': 'string', 'format': 'uuid'}

# 1-255 printable characters, no leading or trailing whitespace.
name = {
    'type': 'string', 'minLength': 1, 'maxLength': 255,
    'pattern': r'^[^\s\x00-\x1f\x7f]([^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$',
}

# Free-form ids and references (flavorRef, imageRef, device names).
reference = {'type': 'string', 'minLength': 1, 'maxLength': 255,
             'pattern': r'^[^\x00-\x1f\x7f]+$'}

nullable_reference = {'type': ['string', 'null'], 'minLength': 1,
                      'maxLength': 255, 'pattern': r'^[^\x00-\x1f\x7f]+$'}

boolean = {'type': ['boolean', 'string'],
           'enum': [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on',
                    'YES', 'Yes', 'yes',
                    False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off',
                    'off', 'NO', 'No', 'no']}

# Query-string booleans; an empty value counts as true (Nova's all_tenants).
query_boolean = {'type': 'string',
                 'enum': ['', 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on',
                          'YES', 'Yes', 'yes', 'False', 'FALSE', 'false',
                          '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']}

non_negative_integer_string = {'type': 'string', 'pattern': r'^[0-9]{1,9}$'}

# "1" or 1: only one server per request here.
single_count = {'type': ['integer', 'string'], 'enum': [1, '1']}

tag = {'type': ['string', 'null'], 'maxLength': 60,
       'pattern': r'^[^,/\x00]*$'}


def nullable(schema: dict) -> dict:
    result = copy.deepcopy(schema)
    declared = result.get('type', [])
    declared = [declared] if isinstance(declared, str) else list(declared)
    result['type'] = declared + ['null']
    if 'enum' in result:
        result['enum'] = list(result['enum']) + [None]
    return result
