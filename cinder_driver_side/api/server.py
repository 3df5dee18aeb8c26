"""The volume API's HTTP server: cheroot's threaded WSGI server.

Kept apart from nova_volmig's (the two services deploy apart; upstream
Cinder and Nova share only oslo libraries), on the same design: a fixed
pool of ``osapi_volume_workers_threads`` threads; a selector thread
accepts connections and hands one to a thread only once it has bytes to
read, so idle clients hold no thread and are closed after
``client_socket_timeout``; the errors cheroot answers itself (malformed
request line, 408, 414, 431, 501, 505) carry a Cinder fault body.
"""

from __future__ import annotations

import json
import threading

from cheroot import errors as cheroot_errors
from cheroot import server as cheroot_server
from cheroot.workers import threadpool
from cheroot import wsgi as cheroot_wsgi
from oslo_config import cfg
from oslo_log import log as logging

from cinder_driver_side.api import wsgi

LOG = logging.getLogger(__name__)

# An unread request body above this size closes the connection instead of
# being read to keep it alive.
DRAIN_LIMIT = 8 * 1024 * 1024
# Idle keep-alive connections kept at most; each costs a descriptor only.
KEEP_ALIVE_LIMIT = 256


class _LogStream:
    """``wsgi.errors``: what middlewares write there goes to the log."""

    def write(self, text: str) -> None:
        if text.strip():
            LOG.error('WSGI application: %s', text.rstrip())

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


class _Request(cheroot_server.HTTPRequest):

    def simple_response(self, status, msg: str = '') -> None:
        """cheroot's own error answers, with a JSON fault body.

        Called by ``HTTPRequest.read_request_line`` and
        ``read_request_headers`` and on timeouts; the connection closes.
        """
        status = str(status)
        code, reason = int(status[:3]), status[4:]
        if code == 413 and 'header' in str(msg):
            code, reason = 431, 'Request Header Fields Too Large'
        body = json.dumps({wsgi.FAULT_NAMES.get(code, 'computeFault'): {
            'code': code, 'message': str(msg) if msg else reason}}).encode()
        head = ['%s %d %s' % (self.server.protocol, code, reason),
                'Content-Type: application/json',
                'Content-Length: %d' % len(body), 'Connection: close']
        self.close_connection = True
        LOG.debug('%s: answered %d (%s)', self.conn.remote_addr, code, msg)
        try:
            self.conn.wfile.write(
                ('\r\n'.join(head) + '\r\n\r\n').encode('latin-1') + body)
        except OSError as exc:
            if exc.args[0] not in cheroot_errors.socket_errors_to_ignore:
                raise

    def send_headers(self) -> None:
        # Don't read a huge unread body just to keep the connection.
        if getattr(self.rfile, 'remaining', 0) > DRAIN_LIMIT:
            self.close_connection = True
        super().send_headers()


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request
    readable = False


class _Gateway(cheroot_wsgi.Gateway_10):

    def get_environ(self) -> dict:
        env = super().get_environ()
        env['wsgi.errors'] = _LogStream()
        return env

    def respond(self) -> None:
        try:
            super().respond()
        finally:
            LOG.debug('%s "%s %s" %s', self.env.get('REMOTE_ADDR'),
                      self.env.get('REQUEST_METHOD'),
                      self.env.get('REQUEST_URI'),
                      (self.req.status or b'-').decode('latin-1')[:3])


class _DaemonThreadPool(threadpool.ThreadPool):
    """Worker threads that don't keep a stopping process alive.

    ``stop()`` waits for requests in flight, but only so long: a worker
    stuck in the application must not block the process's exit.
    """

    def _spawn_worker(self):
        worker = threadpool.WorkerThread(self.server)
        worker.name = 'wsgi-worker-%s' % worker.name
        worker.daemon = True
        worker.start()
        return worker


class _Server(cheroot_wsgi.Server):
    ConnectionClass = _Connection
    keep_alive_conn_limit = KEEP_ALIVE_LIMIT

    def process_conn(self, conn) -> None:
        """A fresh connection waits in the selector for its first bytes.

        cheroot would hand it to a worker at once, which then blocks
        reading the request line: idle clients would hold every thread.
        """
        if not conn.readable:
            conn.readable = True
            if not conn.rfile.has_data():
                self._connections.put(conn)
                return
        super().process_conn(conn)

    def error_log(self, msg: str = '', level: int = 20,
                  traceback: bool = False) -> None:
        LOG.log(level, 'HTTP server: %s', msg, exc_info=traceback)


class WSGIServer:
    """Serve ``app`` per the ``osapi_volume_*`` options of ``conf``."""

    def __init__(self, app, conf: cfg.ConfigOpts, host: str | None = None,
                 port: int | None = None):
        self.app = app
        self.conf = conf
        self.host = host or conf.osapi_volume_listen
        self.requested_port = (conf.osapi_volume_listen_port if port is None
                               else port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError('the server is not started')
        return self._server.bind_addr[1]

    def start(self) -> None:
        """Bind and listen (errors raise here), then serve from a thread."""
        if self._server is not None:
            raise RuntimeError('the server is already started')
        threads = self.conf.osapi_volume_workers_threads
        server = _Server(
            (self.host, self.requested_port), self.app,
            numthreads=threads, max=threads, server_name='cinder-volmig',
            request_queue_size=self.conf.backlog,
            timeout=self.conf.client_socket_timeout)
        server.requests = _DaemonThreadPool(server, min=threads, max=threads)
        server.gateway = _Gateway
        server.max_request_header_size = self.conf.max_request_header_size
        server.prepare()
        self._server = server
        self._thread = threading.Thread(target=server.serve, daemon=True,
                                        name='cinder-volmig-api')
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, let requests in flight finish, close."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown_timeout = timeout
        # cheroot's stop() joins a worker that outlived the timeout without
        # one more: run it aside and give up waiting after a grace.
        stopper = threading.Thread(target=server.stop, daemon=True,
                                   name='wsgi-stop')
        stopper.start()
        stopper.join(timeout + 5)
        if stopper.is_alive():
            LOG.warning('Requests still running %s s after stop', timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)
