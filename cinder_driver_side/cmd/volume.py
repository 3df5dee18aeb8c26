"""cinder-volmig: the volume API, manager and arrays in one process."""

import warnings

# futurist imports eventlet (an oslo.service dependency) and eventlet
# warns that it is deprecated; nothing here uses it.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from oslo_service import backend  # noqa: E402

backend.init_backend(backend.BackendType.THREADING)

import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from oslo_log import log as logging  # noqa: E402

from cinder_driver_side import conf as cinder_conf  # noqa: E402
from cinder_driver_side import service  # noqa: E402

LOG = logging.getLogger(__name__)


def main(argv=None) -> int:
    conf = cinder_conf.new_conf(register_logging=True)
    cinder_conf.parse(conf, sys.argv[1:] if argv is None else argv)
    logging.setup(conf, 'cinder-volmig')
    svc = service.CinderService(conf)
    svc.start()
    stopped = threading.Event()

    def _stop(signum, frame):
        LOG.info('Signal %d: stopping', signum)
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stopped.wait(1):
        pass
    # Attached guests keep their NBD exports across a restart.
    svc.stop(stop_exports=False)
    return 0


if __name__ == '__main__':
    sys.exit(main())
