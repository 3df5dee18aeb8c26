"""Raw HTTP over a socket, for requests no HTTP client library would send.

Malformed request lines, over-long URLs and headers, bytes that are not
UTF-8: ``exchange()`` writes exactly the given bytes and parses whatever
answer comes back.
"""

from __future__ import annotations

import dataclasses
import json
import socket


@dataclasses.dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def connect(host: str, port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


def exchange(host: str, port: int, data: bytes,
             timeout: float = 10.0) -> Response:
    """Send ``data`` on a new connection and read one response."""
    with connect(host, port, timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def request(host: str, port: int, method: str, target: str,
            headers: dict[str, str] | None = None, body: bytes = b'',
            timeout: float = 10.0) -> Response:
    """A well-formed HTTP/1.1 request whose target is sent as is."""
    lines = ['%s %s HTTP/1.1' % (method, target), 'Host: %s:%d' % (host, port),
             'Connection: close']
    for key, value in (headers or {}).items():
        lines.append('%s: %s' % (key, value))
    if body or method in ('POST', 'PUT'):
        lines.append('Content-Length: %d' % len(body))
    data = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body
    return exchange(host, port, data, timeout)


def read_response(sock: socket.socket) -> Response:
    """Read one response: by Content-Length, chunks, or until EOF."""
    buf = b''
    while b'\r\n\r\n' not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError('connection closed before a response '
                                  '(got %r)' % buf[:200])
        buf += chunk
    head, _, rest = buf.partition(b'\r\n\r\n')
    status_line, *header_lines = head.decode('latin-1').split('\r\n')
    _proto, status, reason = (status_line.split(' ', 2) + [''])[:3]
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(':')
        headers[key.strip().lower()] = value.strip()
    if 'content-length' in headers:
        length = int(headers['content-length'])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body = rest[:length]
    elif headers.get('transfer-encoding', '').lower() == 'chunked':
        body = _read_chunked(sock, rest)
    else:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body = rest
    return Response(int(status), reason, headers, body)


def _read_chunked(sock: socket.socket, buf: bytes) -> bytes:
    body = b''
    while True:
        while b'\r\n' not in buf:
            buf += sock.recv(65536)
        size_line, _, buf = buf.partition(b'\r\n')
        size = int(size_line.split(b';')[0], 16)
        while len(buf) < size + 2:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError('connection closed mid-chunk')
            buf += chunk
        if size == 0:
            return body
        body += buf[:size]
        buf = buf[size + 2:]
