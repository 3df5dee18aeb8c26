"""Tests of nova-volmig; the threading backend precedes any oslo import."""

from oslo_service import backend

try:
    backend.init_backend(backend.BackendType.THREADING)
except Exception:  # already initialised to threading by the runner
    pass
