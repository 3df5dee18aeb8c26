"""``volmig-bench``: the benchmark's command line.

Sub-commands available now (the full run lands with the Nova and Cinder
sides and plugs into the same modules):

* ``probe`` - what this host offers: namespaces, loop devices, reflink.
* ``guest-build`` - build the tiny guest image (as
  ``python -m volmig_bench.guest build``).
* ``guest-check`` - boot the guest on libvirt, write, stop it, verify the
  disk by checksum; prints boot time, achieved rate and latency.
* ``nbd-nodelay`` - measure qemu-storage-daemon's accepted NBD sockets and
  parallel 64 KiB writes over a shaped link, with and without
  ``TCP_NODELAY``.
* ``report JSON`` - print the table and redraw the plot of a result file.
* ``cleanup`` - remove namespaces and pools left by killed runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from oslo_service import backend

try:
    backend.init_backend(backend.BackendType.THREADING)
except Exception:  # noqa: S110 - already initialised by the caller
    pass

from volmig_bench import exception  # noqa: E402
from volmig_bench.guest import __main__ as guest_cli  # noqa: E402
from volmig_bench.guest import builder  # noqa: E402
from volmig_bench.guest import protocol  # noqa: E402
from volmig_bench import host  # noqa: E402
from volmig_bench import link  # noqa: E402
from volmig_bench import nbd  # noqa: E402
from volmig_bench import report  # noqa: E402
from volmig_bench import xfs_pool  # noqa: E402


def _state_dir(args) -> str:
    return os.path.abspath(args.state_path)


def cmd_probe(args) -> dict:
    ns_ok, ns_why = link.namespaces_available()
    loop_ok, loop_why = xfs_pool.loop_available()
    os.makedirs(_state_dir(args), exist_ok=True)
    return {
        'namespaces': ns_ok or 'no: %s (NBD link falls back to a '
                               'throttle group)' % ns_why,
        'loop_devices': loop_ok or 'no: %s (XFS reflink pool skipped)'
                                   % loop_why,
        'state_path_reflink': xfs_pool.supports_reflink(_state_dir(args)),
    }


def cmd_guest_build(args) -> dict:
    image = builder.build(args.dest, guest_cli.writer_params(args),
                          cache_dir=args.cache_dir)
    return {'path': image.path, 'cmdline': image.cmdline}


def cmd_guest_check(args) -> dict:
    from volmig_bench.guest import check

    os.makedirs(_state_dir(args), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=_state_dir(args)) as tmp:
        os.chmod(tmp, 0o755)
        result = check.check_guest(
            tmp, guest_cli.writer_params(args),
            size=protocol.parse_size(args.size), seconds=args.seconds,
            memory_mb=args.memory_mb, cache_dir=args.cache_dir)
    if not result.checksum_ok:
        raise exception.ChecksumMismatch(
            what='the guest disk', expected=result.expected_sha256,
            actual=result.actual_sha256)
    return result.as_dict()


def _bench_writes(uri: str, count: int, depth: int) -> float:
    out = subprocess.run(
        ['qemu-img', 'bench', '-w', '-t', 'none', '-f', 'raw', '-c',
         str(count), '-d', str(depth), '-s', '64k', uri],
        check=True, capture_output=True, text=True).stdout
    return float(re.search(r'completed in ([\d.]+) seconds', out).group(1))


def cmd_nbd_nodelay(args) -> dict:
    host.require('qemu-storage-daemon', 'qemu-img', 'ip', 'tc')
    spec = link.LinkSpec(rate_bit=int(args.link_rate_mbit * 1e6),
                         latency_ms=args.link_latency_ms)
    results = []
    with tempfile.TemporaryDirectory(dir=_state_dir(args)) as tmp:
        volume = os.path.join(tmp, 'volume.raw')
        with open(volume, 'wb') as f:
            f.truncate(64 << 20)
        with link.shaped_link(spec) as lnk:
            for nodelay in (True, False):
                with nbd.export(volume, lnk.array_address, 10809,
                                nodelay=nodelay,
                                netns_argv=lnk.netns_argv) as exp:
                    for depth in (1, 4):
                        before = lnk.counters()
                        probe = subprocess.Popen(
                            ['qemu-io', '-f', 'raw', '-c', 'sleep 300',
                             exp.uri])
                        time.sleep(0.2)
                        seen = nbd.accepted_nodelay(exp.process.pid)
                        probe.wait()
                        seconds = _bench_writes(exp.uri, args.count, depth)
                        results.append({
                            'export': 'nodelay-listener' if nodelay
                                      else 'qsd-inet',
                            'accepted_socket_nodelay': sorted(
                                set(seen.values())),
                            'depth': depth, 'writes': args.count,
                            'seconds': seconds,
                            'link_bytes': (lnk.counters() - before).total})
    return {'link': spec.describe(), 'results': results}


def cmd_report(args) -> dict:
    from rich.console import Console

    result = report.load_json(args.json)
    Console().print(report.render_table(result))
    png = report.write_plot(result, os.path.splitext(args.json)[0]
                            + '.png')
    return {'png': png}


def cmd_cleanup(args) -> dict:
    return {'namespaces': link.cleanup_stale(),
            'pools': xfs_pool.cleanup_stale(os.path.join(
                _state_dir(args), 'bench'))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='volmig-bench')
    parser.add_argument('--state-path', default=os.environ.get(
        'VOLMIG_BENCH_STATE', '/var/lib/nova-volmig'))
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('probe', help='what this host offers the bench')
    gb = sub.add_parser('guest-build', help='build the tiny guest image')
    gb.add_argument('--dest', required=True)
    gb.add_argument('--cache-dir', default=None)
    guest_cli.add_writer_arguments(gb)
    gc = sub.add_parser('guest-check', help='boot the guest, write, '
                                            'verify; boot time and rate')
    gc.add_argument('--seconds', type=float, default=5.0)
    gc.add_argument('--size', default='64m', help='data disk size')
    gc.add_argument('--memory-mb', type=int, default=128)
    gc.add_argument('--cache-dir', default=None)
    guest_cli.add_writer_arguments(gc)
    nd = sub.add_parser('nbd-nodelay', help='TCP_NODELAY of NBD exports '
                                            'and what it costs')
    nd.add_argument('--link-rate-mbit', type=float, default=1000)
    nd.add_argument('--link-latency-ms', type=float, default=10)
    nd.add_argument('--count', type=int, default=300)
    rp = sub.add_parser('report', help='table and plot of a result file')
    rp.add_argument('json')
    sub.add_parser('cleanup', help='remove what killed runs left')
    args = parser.parse_args(argv)
    handler = {'probe': cmd_probe, 'guest-build': cmd_guest_build,
               'guest-check': cmd_guest_check,
               'nbd-nodelay': cmd_nbd_nodelay, 'report': cmd_report,
               'cleanup': cmd_cleanup}[args.command]
    try:
        out = handler(args)
    except exception.BenchError as exc:
        print('volmig-bench: error: %s' % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('volmig-bench: interrupted; everything was torn down',
              file=sys.stderr)
        return 130
    print(json.dumps(out, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
