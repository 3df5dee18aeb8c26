"""The shaped link on real namespaces, veth and tc."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

from tests import base
from volmig_bench import link

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SINK = textwrap.dedent('''
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], 5201))
    s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    n = 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        n += len(b)
    c.sendall(str(n).encode())
''')


def _gone(lnk):
    return (lnk.namespace not in link.list_namespaces()
            and not os.path.exists('/sys/class/net/' + lnk.host_ifname))


class LinkTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        ok, why = link.namespaces_available()
        if not ok:
            self.fail('network namespaces are needed here: %s' % why)

    def _send(self, lnk, nbytes):
        sink = subprocess.Popen(lnk.netns_argv(
            [sys.executable, '-c', SINK, lnk.array_address]),
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(sink.wait, 10)
        self.assertEqual('ready', sink.stdout.readline().strip())
        before = lnk.counters()
        conn = socket.create_connection((lnk.array_address, 5201),
                                        timeout=30)
        chunk = b'\xa5' * (1 << 20)
        start = time.monotonic()
        sent = 0
        while sent < nbytes:
            conn.sendall(chunk)
            sent += len(chunk)
        conn.shutdown(socket.SHUT_WR)
        received = int(conn.recv(64))
        elapsed = time.monotonic() - start
        conn.close()
        return sent, received, elapsed, lnk.counters() - before

    def test_shaping_holds_and_counters_count(self):
        spec = link.LinkSpec(rate_bit=200 * 10 ** 6, latency_ms=10)
        with link.shaped_link(spec) as lnk:
            sent, received, elapsed, moved = self._send(lnk, 16 << 20)
            stats = lnk.qdisc_stats()
        self.assertTrue(_gone(lnk))
        self.assertEqual(sent, received)
        rate_bit = sent * 8 / elapsed
        self.addDetailUniqueName('rate_mbit', _text('%.1f' % (
            rate_bit / 1e6)))
        # Loose bounds: the token bucket caps the rate; 2 busy cores may
        # slow it.
        self.assertLess(rate_bit, spec.rate_bit * 1.15)
        self.assertGreater(rate_bit, spec.rate_bit * 0.4)
        # Counters are the link's own: payload plus headers, both ways.
        self.assertGreaterEqual(moved.to_array, sent)
        self.assertLess(moved.to_array, sent * 1.1)
        self.assertGreater(moved.from_array, 0)
        self.assertIn('tbf', stats)

    def test_unshaped_default_rate_is_faster(self):
        # The default 1 Gbit/s link carries more than the 200 Mbit/s one.
        with link.shaped_link() as lnk:
            self.assertEqual(10 ** 9, lnk.spec.rate_bit)
            sent, received, elapsed, _ = self._send(lnk, 16 << 20)
        self.assertEqual(sent, received)
        self.assertGreater(sent * 8 / elapsed, 200 * 10 ** 6)

    def test_teardown_on_exception_stops_processes_inside(self):
        class Boom(Exception):
            pass

        holder = {}
        try:
            with link.shaped_link() as lnk:
                holder['link'] = lnk
                proc = subprocess.Popen(lnk.netns_argv(['sleep', '300']))
                holder['proc'] = proc
                time.sleep(0.2)
                self.assertIn(proc.pid, link.namespace_pids(lnk.namespace))
                raise Boom()
        except Boom:
            pass
        self.assertIsNotNone(holder['proc'].wait(10))
        self.assertTrue(_gone(holder['link']))

    def test_teardown_on_sigterm_and_sigint(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            script = textwrap.dedent('''
                import sys, time
                from volmig_bench import link
                with link.shaped_link() as lnk:
                    print(lnk.namespace, lnk.host_ifname, flush=True)
                    time.sleep(120)
            ''')
            proc = subprocess.Popen([sys.executable, '-c', script],
                                    stdout=subprocess.PIPE, text=True,
                                    cwd=REPO, env=dict(os.environ,
                                                       PYTHONPATH=REPO),
                                    preexec_fn=base.default_signals)
            namespace, ifname = proc.stdout.readline().split()
            self.assertIn(namespace, link.list_namespaces())
            proc.send_signal(sig)
            self.assertNotEqual(0, proc.wait(30))
            self.assertNotIn(namespace, link.list_namespaces())
            self.assertFalse(os.path.exists('/sys/class/net/' + ifname))

    def test_concurrent_links_get_distinct_subnets(self):
        links = []
        errors = []

        def make(n):
            try:
                with link.shaped_link() as lnk:
                    links.append(lnk.host_address)
                    time.sleep(0.5)
            except Exception as exc:  # noqa: B902 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=make, args=(i,))
                   for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual([], errors)
        self.assertEqual(3, len(set(links)))


def _text(value):
    from testtools import content

    return content.text_content(value)
