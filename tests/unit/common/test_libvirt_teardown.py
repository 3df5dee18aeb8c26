"""volmig_common.libvirt_teardown against a fake connection."""

from unittest import mock

import libvirt

from tests import base
from volmig_common import libvirt_teardown


def _error(code: int) -> libvirt.libvirtError:
    error = libvirt.libvirtError('fake')
    error.get_error_code = lambda: code
    return error


class FakeDomain:

    def __init__(self, active: bool, transient: bool = False):
        self.active = active
        self.transient = transient
        self.calls: list[str] = []

    def isActive(self):
        return self.active

    def destroy(self):
        self.calls.append('destroy')
        self.active = False

    def undefineFlags(self, flags):
        self.calls.append('undefine %d' % flags)
        if self.transient:
            raise _error(libvirt.VIR_ERR_NO_DOMAIN)


class FakeConn:

    def __init__(self, domains: dict, fail: dict | None = None):
        self.domains = domains
        self.fail = fail or {}
        self.closed = 0

    def lookupByUUIDString(self, uuid):
        if uuid in self.fail:
            raise self.fail[uuid]
        if uuid not in self.domains:
            raise _error(libvirt.VIR_ERR_NO_DOMAIN)
        return self.domains[uuid]

    def close(self):
        self.closed += 1


class TestRemoveDomain(base.TestCase):

    def test_running_domain_destroyed_then_undefined(self):
        dom = FakeDomain(active=True)
        self.assertTrue(libvirt_teardown.remove_domain(
            FakeConn({'u1': dom}), 'u1'))
        self.assertEqual(
            ['destroy', 'undefine %d'
             % libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA], dom.calls)

    def test_transient_and_missing_domains(self):
        dom = FakeDomain(active=True, transient=True)
        conn = FakeConn({'u1': dom})
        self.assertTrue(libvirt_teardown.remove_domain(conn, 'u1'))
        self.assertFalse(libvirt_teardown.remove_domain(conn, 'gone'))

    def test_other_errors_raise(self):
        internal = _error(libvirt.VIR_ERR_INTERNAL_ERROR)
        conn = FakeConn({}, fail={'u1': internal})
        self.assertRaises(libvirt.libvirtError,
                          libvirt_teardown.remove_domain, conn, 'u1')


class TestRemoveDomains(base.TestCase):

    def test_one_failure_does_not_stop_the_others(self):
        stopped = FakeDomain(active=False)
        error = _error(libvirt.VIR_ERR_INTERNAL_ERROR)
        conn = FakeConn({'ok': stopped}, fail={'bad': error})
        with mock.patch.object(libvirt, 'open', return_value=conn):
            failed = libvirt_teardown.remove_domains(['bad', 'ok'])
        self.assertEqual({'bad': error}, failed)
        self.assertEqual(1, len(stopped.calls))
        self.assertEqual(1, conn.closed)

    def test_retries_on_a_new_connection(self):
        dom = FakeDomain(active=True)
        internal = _error(libvirt.VIR_ERR_INTERNAL_ERROR)
        first = FakeConn({}, fail={'u1': internal})
        second = FakeConn({'u1': dom})
        with mock.patch.object(libvirt, 'open',
                               side_effect=[first, second]) as opened:
            failed = libvirt_teardown.remove_domains(['u1'], attempts=3,
                                                     delay=0)
        self.assertEqual({}, failed)
        self.assertEqual(2, opened.call_count)
        self.assertEqual('destroy', dom.calls[0])
