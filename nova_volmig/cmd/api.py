"""nova-volmig-api: the compute REST API."""

import sys

from nova_volmig import cmd  # noqa: F401  (threading backend first)
from nova_volmig.cmd import common
from nova_volmig import service


def main(argv=None) -> int:
    return common.serve(argv or sys.argv, service.APIService,
                        lambda api: 'nova-volmig-api: %s' % api.endpoint)


if __name__ == '__main__':
    sys.exit(main())
