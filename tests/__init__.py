"""Tests of nova-volmig; the threading backend precedes any oslo import."""

import warnings

# futurist imports eventlet (an oslo.service dependency) and eventlet
# warns that it is deprecated; nothing here uses it.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from oslo_service import backend  # noqa: E402

try:
    backend.init_backend(backend.BackendType.THREADING)
except Exception:  # already initialised to threading by the runner
    pass
