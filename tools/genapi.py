#!/usr/bin/env python3
"""Write the OpenAPI documents of both APIs into doc/source (make genapi).

The documents are generated from the routers and the JSON schemas the
APIs validate with (``nova_volmig.api.openapi``,
``cinder_driver_side.api.openapi``); a unit test fails when the shipped
copies are stale.
"""

from __future__ import annotations

import os
import sys

from cinder_driver_side.api import openapi as cinder_openapi
from nova_volmig.api import openapi as nova_openapi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Shipped file (relative to the repository) -> the generator of its text.
DOCUMENTS = {
    'doc/source/api/openapi.json': nova_openapi.dumps,
    'doc/source/cinder/openapi.json': cinder_openapi.dumps,
}


def main() -> int:
    for relative, dumps in DOCUMENTS.items():
        with open(os.path.join(ROOT, relative), 'w') as f:
            f.write(dumps())
        print('wrote %s' % relative)
    return 0


if __name__ == '__main__':
    sys.exit(main())
