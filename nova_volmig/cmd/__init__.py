"""Entry points. The threading backend precedes any other oslo import."""

from oslo_service import backend

try:
    backend.init_backend(backend.BackendType.THREADING)
except Exception:  # already initialised (e.g. the aio imports both sides)
    pass
