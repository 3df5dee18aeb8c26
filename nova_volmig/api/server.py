"""A threaded WSGI server for the compute API (stdlib ``wsgiref``).

One thread per request, at most ``[api] workers_threads`` at once (further
connections wait in the listen backlog); access lines go to oslo.log, not
stderr. ``stop()`` stops accepting, then waits for requests in flight.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from wsgiref import simple_server

from oslo_config import cfg
from oslo_log import log as logging

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
ACCESS_LOG = logging.getLogger(__name__ + '.access')


class _RequestHandler(simple_server.WSGIRequestHandler):
    """wsgiref's handler, logging through oslo.log."""

    server_version = 'nova-volmig-api'

    def address_string(self) -> str:
        # No reverse DNS look-up per request.
        return self.client_address[0]

    def log_request(self, code='-', size='-') -> None:
        ACCESS_LOG.info('%(client)s "%(line)s" status: %(code)s len: '
                        '%(size)s', {'client': self.address_string(),
                                     'line': self.requestline,
                                     'code': code, 'size': size})

    def log_message(self, format, *args) -> None:  # noqa: A002 (stdlib)
        LOG.warning('%s: %s', self.address_string(), format % args)

    def get_stderr(self):
        return _LogStream()


class _LogStream:
    """wsgiref writes application tracebacks to stderr: log them."""

    def write(self, text: str) -> None:
        if text.strip():
            LOG.error('WSGI server: %s', text.rstrip())

    def flush(self) -> None:
        pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn,
                           simple_server.WSGIServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, handler, max_threads: int):
        self._slots = threading.BoundedSemaphore(max_threads)
        self._active: set[threading.Thread] = set()
        self._active_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        self._slots.acquire()
        thread = threading.Thread(target=self._serve_one,
                                  args=(request, client_address),
                                  name='wsgi-%s:%s' % client_address[:2],
                                  daemon=True)
        with self._active_lock:
            self._active.add(thread)
        thread.start()

    def _serve_one(self, request, client_address):
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._active_lock:
                self._active.discard(threading.current_thread())
            self._slots.release()

    def wait_for_requests(self, timeout: float) -> bool:
        """Join requests in flight; False if some outlived ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            with self._active_lock:
                threads = list(self._active)
            if not threads:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            threads[0].join(remaining)


class _ThreadingWSGIServer6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class WSGIServer:
    """Serve a WSGI app on ``host:port`` from a background thread.

    ``port`` 0 picks an ephemeral port; :attr:`port` and :attr:`endpoint`
    tell which once :meth:`start` returned.
    """

    def __init__(self, app, host: str = '127.0.0.1', port: int = 0,
                 max_threads: int | None = None):
        self.app = app
        self.host = host
        self.requested_port = port
        self.max_threads = max_threads or CONF.api.workers_threads
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError('the server is not started')
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        host = self.host
        if ':' in host:
            host = '[%s]' % host
        return 'http://%s:%d/' % (host, self.port)

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError('the server is already started')
        server_cls = (_ThreadingWSGIServer6 if ':' in self.host
                      else _ThreadingWSGIServer)
        self._server = server_cls((self.host, self.requested_port),
                                  _RequestHandler, self.max_threads)
        self._server.set_app(self.app)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={'poll_interval': 0.2},
            name='wsgi-server-%d' % self.port, daemon=True)
        self._thread.start()
        LOG.info('Serving the compute API on %s', self.endpoint)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, let requests in flight finish, close."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown()
        if not server.wait_for_requests(timeout):
            LOG.warning('Requests still running after %s s at stop',
                        timeout)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait(self) -> None:
        """Block until :meth:`stop` is called from another thread."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)
