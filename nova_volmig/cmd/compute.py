"""nova-volmig-compute: one per hypervisor host."""

import sys

from nova_volmig import cmd  # noqa: F401  (threading backend first)
from nova_volmig.cmd import common
from nova_volmig import config
from nova_volmig.db import api as db
from nova_volmig import rpc
from nova_volmig import service


def main(argv=None) -> int:
    config.set_defaults()
    config.parse_args(argv or sys.argv)
    db.configure()
    rpc.init()
    compute = service.ComputeService()
    compute.start()
    print('nova-volmig-compute: host %s ready' % compute.host, flush=True)

    def stop():
        compute.stop()
        rpc.cleanup()

    return common.run_until_signalled(stop)


if __name__ == '__main__':
    sys.exit(main())
