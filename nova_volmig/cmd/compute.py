"""nova-volmig-compute: one per hypervisor host."""

import sys

from nova_volmig import cmd  # noqa: F401  (threading backend first)
from nova_volmig.cmd import common
from nova_volmig import service


def main(argv=None) -> int:
    return common.serve(
        argv or sys.argv, service.ComputeService,
        lambda compute: 'nova-volmig-compute: host %s ready' % compute.host)


if __name__ == '__main__':
    sys.exit(main())
