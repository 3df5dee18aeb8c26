"""Fake Nova for the Cinder side's tests: an HTTP compute API.

It speaks the contract cinder-volmig calls (DESIGN 3: volume migration
start / complete / cancel / GET, legacy swap + GET attachment with
swap_progress) and models the data path of a guest on ``file``
connections: ``guest_write()`` goes to src before start, to an overlay
(dict) between start and complete/cancel, which complete applies to dst
(read from Cinder's attachment B, as Nova does) and cancel to src. So a
test can prove DESIGN 6's invariants with checksums without QEMU.
"""

from __future__ import annotations

import json
import threading
import time

import requests
import webob
import webob.dec

from cinder_driver_side.api import server as api_server
from cinder_driver_side import conf as cinder_conf


def _fault(status: int, name: str, message: str) -> webob.Response:
    return webob.Response(status=status, content_type='application/json',
                          charset='utf-8', text=json.dumps(
                              {name: {'code': status, 'message': message}}))


def _ok(status: int, body=None) -> webob.Response:
    response = webob.Response(status=status, charset='utf-8',
                              content_type='application/json')
    response.text = json.dumps(body) if body is not None else ''
    return response


def _call_name(method, parts, body) -> str:
    if parts[:1] == ['os-volume-migrations']:
        if method == 'POST' and len(parts) == 1:
            return 'start'
        if method == 'POST':
            return next(iter(body or {'?': 0}))
        return 'get'
    return 'swap' if method == 'PUT' else method.lower()


class Guest:
    """The disk a fake instance writes to."""

    def __init__(self, path: str):
        self.path = path
        self.overlay: dict[int, bytes] | None = None
        self.lock = threading.Lock()

    def write(self, offset: int, data: bytes) -> None:
        with self.lock:
            if self.overlay is not None:
                self.overlay[offset] = data
                return
            with open(self.path, 'r+b') as f:
                f.seek(offset)
                f.write(data)

    def flush_overlay_to(self, path: str) -> None:
        with self.lock:
            with open(path, 'r+b') as f:
                for offset, data in sorted((self.overlay or {}).items()):
                    f.seek(offset)
                    f.write(data)
            self.overlay = None
            self.path = path


class FakeNova:
    """Fake compute API on a loopback port; ``cinder`` is its Cinder."""

    def __init__(self):
        self.cinder_endpoint: str | None = None
        self.guests: dict[str, Guest] = {}          # attachment id -> guest
        self.migrations: dict[str, dict] = {}       # src attachment -> record
        self.swaps: dict[tuple[str, str], dict] = {}
        self.calls: list[tuple] = []
        # Failure injection: name -> (status, message) or callable.
        self.fail: dict[str, tuple[int, str]] = {}
        self.status_after_failed_complete = 'running'
        # An injected start failure answered after the record is saved
        # with this status (Nova's host did the start, its answer lost).
        self.status_after_failed_start: str | None = None
        self.swap_delay = 0.0
        self.swap_error = False
        # Call name -> Event: the call waits until the test sets it.
        self.hold: dict[str, threading.Event] = {}
        conf = cinder_conf.new_conf()
        conf([], default_config_files=[])
        self._server = api_server.WSGIServer(self.app, conf, '127.0.0.1', 0)
        self._server.start()

    @property
    def endpoint(self) -> str:
        return 'http://127.0.0.1:%d/v2.1' % self._server.port

    def stop(self) -> None:
        self._server.stop(timeout=5)

    # Cinder calls made as Nova does (service token)

    def _cinder(self, method, path, body=None, version='3.72'):
        response = requests.request(
            method, self.cinder_endpoint + path, json=body, timeout=30,
            headers={'X-Auth-Token': 'nova:service', 'X-Roles': 'service',
                     'OpenStack-API-Version': 'volume %s' % version})
        if response.status_code >= 400:
            raise RuntimeError('cinder %s %s: %s %s' % (
                method, path, response.status_code, response.text))
        return response.json() if response.content else None

    def attach(self, volume_id: str, instance_uuid: str,
               connector: dict | None = None) -> str:
        """Attach as Nova does; returns the attachment id."""
        connector = connector or {'host': 'compute1', 'initiator': 'x'}
        att = self._cinder('POST', '/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': instance_uuid,
            'connector': connector}})['attachment']
        self._cinder('POST', '/attachments/%s/action' % att['id'],
                     {'os-complete': None})
        info = att['connection_info']
        self.guests[att['id']] = Guest(info['data']['device_path'])
        return att['id']

    # The API

    @webob.dec.wsgify
    def app(self, req):
        parts = [p for p in req.path_info.split('/') if p][1:]
        body = json.loads(req.body) if req.body else None
        self.calls.append((req.method, '/'.join(parts), body))
        for name, event in self.hold.items():
            if name == _call_name(req.method, parts, body):
                event.wait(30)
        if req.headers.get('OpenStack-API-Version') != 'compute 2.105':
            return _fault(404, 'itemNotFound', 'microversion too old')
        if parts[:1] == ['os-volume-migrations']:
            return self._migrations(req, parts[1:], body)
        if parts[:1] == ['servers'] and parts[2:3] == [
                'os-volume_attachments']:
            return self._attachment(req, parts[1], parts[3], body)
        return _fault(404, 'itemNotFound', 'no route')

    def _injected(self, name):
        failure = self.fail.get(name)
        if failure is None:
            return None
        status, message = failure
        return _fault(status, {400: 'badRequest', 404: 'itemNotFound',
                               409: 'conflict'}.get(status, 'computeFault'),
                      message)

    def _migrations(self, req, rest, body):
        if req.method == 'POST' and not rest:
            att = body['volume_migration']['src_attachment_id']
            failed = self._injected('start')
            if failed and self.status_after_failed_start is None:
                return failed
            if att not in self.guests:
                return _fault(404, 'itemNotFound', 'attachment %s' % att)
            record = self.migrations.get(att)
            if record and record['status'] not in (
                    'completed', 'cancelled', 'error'):
                return _fault(409, 'conflict', 'migration already %s'
                              % record['status'])
            self.guests[att].overlay = {}
            record = {'src_attachment_id': att, 'dst_attachment_id': None,
                      'status': 'running', 'progress': None, 'error': None}
            self.migrations[att] = record
            if failed:
                record['status'] = self.status_after_failed_start
                return failed
            return _ok(201, {'volume_migration': record})
        att = rest[0]
        record = self.migrations.get(att)
        if record is None:
            return _fault(404, 'itemNotFound', 'no migration of %s' % att)
        if req.method == 'GET':
            return _ok(200, {'volume_migration': record})
        if 'cancel' in body:
            if record['status'] != 'running':
                return _fault(409, 'conflict', 'status %s'
                              % record['status'])
            self.guests[att].flush_overlay_to(self.guests[att].path)
            record['status'] = 'cancelled'
            return _ok(202)
        dst_att = body['complete']['dst_attachment_id']
        if record['status'] != 'running':
            return _fault(409, 'conflict', 'status %s' % record['status'])
        failed = self._injected('complete')
        if failed:
            record['status'] = self.status_after_failed_complete
            if record['status'] == 'completed':
                self._switch(att, dst_att)
            return failed
        self._switch(att, dst_att)
        return _ok(202)

    def _switch(self, att, dst_att):
        info = self._cinder('GET', '/attachments/%s' % dst_att)[
            'attachment']['connection_info']
        guest = self.guests.pop(att)
        guest.flush_overlay_to(info['data']['device_path'])
        self.guests[dst_att] = guest
        record = self.migrations[att]
        record['dst_attachment_id'] = dst_att
        record['status'] = 'completed'

    def _attachment(self, req, server_id, volume_id, body):
        key = (server_id, volume_id)
        if req.method == 'GET':
            swap = self.swaps.get(key, {})
            return _ok(200, {'volumeAttachment': {
                'serverId': server_id, 'volumeId': volume_id,
                'swap_progress': swap.get('progress')}})
        if req.method == 'PUT':
            new_volume_id = body['volumeAttachment']['volumeId']
            failed = self._injected('swap')
            if failed:
                return failed
            old_att = next(a['id'] for a in self._cinder(
                'GET', '/attachments?volume_id=%s' % volume_id)[
                'attachments'])
            self.swaps[key] = {'progress': '0'}
            threading.Thread(target=self._swap, daemon=True, args=(
                key, server_id, volume_id, new_volume_id, old_att)).start()
            return _ok(202)
        return _fault(405, 'badMethod', req.method)

    def _swap(self, key, server_id, old_volume_id, new_volume_id, old_att):
        error = self.swap_error
        if not error:
            new_att = self.attach(new_volume_id, server_id)
            guest = self.guests.pop(old_att)
            dst = self.guests[new_att].path
            with open(guest.path, 'rb') as src_f, open(dst, 'r+b') as dst_f:
                size = src_f.seek(0, 2)
                src_f.seek(0)
                done = 0
                while True:
                    block = src_f.read(1 << 20)
                    if not block:
                        break
                    dst_f.write(block)
                    done += len(block)
                    self.swaps[key]['progress'] = str(done * 100 // size)
                    time.sleep(self.swap_delay)
            self.guests[new_att] = Guest(dst)
        result = self._cinder('POST', '/volumes/%s/action' % old_volume_id,
                              {'os-migrate_volume_completion': {
                                  'new_volume': new_volume_id,
                                  'error': error}})
        self.swaps[key]['result'] = result
        self.swaps[key]['progress'] = None
        if error:
            self.swaps[key]['done'] = True
            return
        try:
            self._cinder('DELETE', '/attachments/%s' % old_att)
            self.swaps[key]['old_attachment_delete'] = 200
        except RuntimeError as e:
            self.swaps[key]['old_attachment_delete'] = str(e)
        self.swaps[key]['done'] = True
