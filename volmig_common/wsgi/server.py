"""A REST API's HTTP server: cheroot's threaded WSGI server, hardened.

A fixed pool of threads serves requests; a selector thread accepts
connections and hands one to a thread only once it has bytes to read, so
idle clients (keep-alive or fresh) hold no thread and are closed after
the client socket timeout. Errors cheroot answers itself (malformed
request line, 408, 414, 431, 501, 505) carry the service's JSON fault
body, like the API's own. ``stop()`` stops accepting, then waits for the
requests in flight.

Both services serve through :class:`WSGIServer`; each subclasses it to
take its options and fault format (``nova_volmig.api.server``,
``cinder_driver_side.api.server``).
"""

from __future__ import annotations

import json
import logging as std_logging
import threading

from cheroot import errors as cheroot_errors
from cheroot import server as cheroot_server
from cheroot.workers import threadpool
from cheroot import wsgi as cheroot_wsgi
from oslo_log import log as logging

from volmig_common.wsgi import faults

LOG = logging.getLogger(__name__)
ACCESS_LOG = logging.getLogger(__name__ + '.access')

# A request body left unread above this size is not drained to keep the
# connection alive: the connection is closed instead.
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


class JSONFaultRequest(cheroot_server.HTTPRequest):
    """cheroot's request, answering its own errors with a JSON fault."""

    def simple_response(self, status, msg: str = '') -> None:
        """Replaces cheroot's text/plain error: same status, JSON body.

        cheroot calls it for requests it cannot hand to the application
        (``HTTPRequest.read_request_line`` / ``read_request_headers``) and
        for timeouts; the connection is closed afterwards.
        """
        status = str(status)
        code = int(status[:3])
        reason = status[4:]
        if code == 413 and 'header' in str(msg):
            # cheroot says 413 for headers over max_request_header_size.
            code, reason = 431, 'Request Header Fields Too Large'
        message = str(msg) if msg else reason
        body = json.dumps(self.server.fault_body(code, message)).encode()
        head = ['%s %d %s' % (self.server.protocol, code, reason),
                'Content-Type: application/json',
                'Content-Length: %d' % len(body),
                'Connection: close']
        self.close_connection = True
        self.server.access_log(
            '%(client)s "-" status: %(code)s (%(msg)s)',
            {'client': self.conn.remote_addr, 'code': code, 'msg': message})
        try:
            self.conn.wfile.write(
                ('\r\n'.join(head) + '\r\n\r\n').encode('latin-1') + body)
        except OSError as exc:
            if exc.args[0] not in cheroot_errors.socket_errors_to_ignore:
                raise

    def send_headers(self) -> None:
        # cheroot reads a body the application left unread to keep the
        # connection; a huge declared one would be read for nothing.
        if getattr(self.rfile, 'remaining', 0) > DRAIN_LIMIT:
            self.close_connection = True
        super().send_headers()


class JSONFaultConnection(cheroot_server.HTTPConnection):
    RequestHandlerClass = JSONFaultRequest
    #: Set once the connection had bytes to read (see Server.process_conn).
    readable = False


class LoggingGateway(cheroot_wsgi.Gateway_10):
    """WSGI 1.0 gateway with an access log line per request."""

    def get_environ(self) -> dict:
        env = super().get_environ()
        env['wsgi.errors'] = _LogStream()
        return env

    def respond(self) -> None:
        try:
            super().respond()
        finally:
            self.req.server.access_log(
                '%(client)s "%(method)s %(uri)s" status: %(status)s',
                {'client': self.env.get('REMOTE_ADDR'),
                 'method': self.env.get('REQUEST_METHOD'),
                 'uri': self.env.get('REQUEST_URI'),
                 'status': self.req.status.decode('latin-1')[:3]
                 if self.req.status else '-'})


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


class Server(cheroot_wsgi.Server):
    """cheroot's WSGI server with JSON errors and idle-safe accepting."""

    ConnectionClass = JSONFaultConnection
    keep_alive_conn_limit = KEEP_ALIVE_LIMIT

    def __init__(self, bind_addr, wsgi_app, *, fault_body: faults.FaultBody,
                 numthreads: int, timeout: float, backlog: int,
                 max_request_header_size: int, server_name: str,
                 access_level: int = std_logging.INFO,
                 shutdown_timeout: float = 30.0):
        super().__init__(bind_addr, wsgi_app, numthreads=numthreads,
                         max=numthreads, server_name=server_name,
                         request_queue_size=backlog, timeout=timeout,
                         shutdown_timeout=shutdown_timeout)
        self.requests = _DaemonThreadPool(self, min=numthreads,
                                          max=numthreads)
        self.gateway = LoggingGateway
        self.fault_body = fault_body
        self.max_request_header_size = max_request_header_size
        self.access_level = access_level

    def access_log(self, msg: str, values: dict) -> None:
        """One access log line, at the level the service chose."""
        ACCESS_LOG.log(self.access_level, msg, values)

    def process_conn(self, conn) -> None:
        """Hand ``conn`` to a worker only once it has bytes to read.

        cheroot gives a freshly accepted connection to a worker at once,
        which then blocks reading its request line: a few idle clients
        would hold every thread. Such a connection is parked in the
        connection manager's selector first, like an idle keep-alive one.
        """
        if not conn.readable:
            conn.readable = True
            if not conn.rfile.has_data():
                self._connections.put(conn)
                return
        super().process_conn(conn)

    def error_log(self, msg: str = '', level: int = 20,
                  traceback: bool = False) -> None:
        """cheroot's own messages go to oslo.log, not stderr."""
        LOG.log(level, 'HTTP server: %s', msg, exc_info=traceback)


class WSGIServer:
    """Serve a WSGI app on ``host:port`` from background threads.

    ``port`` 0 picks an ephemeral port; :attr:`port` and :attr:`endpoint`
    tell which once :meth:`start` returned. Subclasses name the API
    (:attr:`name`, :attr:`server_name`) and read their options.
    """

    #: What the log line on start calls the API.
    name = 'the API'
    #: cheroot's ``SERVER_SOFTWARE``.
    server_name = 'volmig'
    #: Level of the access log lines (one per request).
    access_level = std_logging.INFO

    def __init__(self, app, host: str, port: int, *,
                 fault_body: faults.FaultBody, max_threads: int,
                 client_socket_timeout: float, backlog: int,
                 max_request_header_size: int):
        self.app = app
        self.host = host
        self.requested_port = port
        self.max_threads = max_threads
        self.client_socket_timeout = client_socket_timeout
        self.backlog = backlog
        self.max_request_header_size = max_request_header_size
        self.fault_body = fault_body
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError('the server is not started')
        return self._server.bind_addr[1]

    @property
    def endpoint(self) -> str:
        host = self.host
        if ':' in host:
            host = '[%s]' % host
        return 'http://%s:%d/' % (host, self.port)

    def start(self) -> None:
        """Bind and listen (errors raise here), then serve from a thread."""
        if self._server is not None:
            raise RuntimeError('the server is already started')
        server = Server(
            (self.host, self.requested_port), self.app,
            fault_body=self.fault_body, numthreads=self.max_threads,
            timeout=self.client_socket_timeout, backlog=self.backlog,
            max_request_header_size=self.max_request_header_size,
            server_name=self.server_name, access_level=self.access_level)
        server.prepare()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve, name='wsgi-server-%d' % self.port,
            daemon=True)
        self._thread.start()
        LOG.info('Serving %s on %s', self.name, self.endpoint)

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
        """Block until :meth:`stop` is called from another thread."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)
