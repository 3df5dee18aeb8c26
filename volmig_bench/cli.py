"""``volmig-bench``: the benchmark's command line.

``volmig-bench`` with no arguments runs the default benchmark (``run``):
1 GiB volumes, 60 % allocated, a real guest writing 20 MB/s of 64 KiB
writes, on an NBD array behind a shaped 1 Gbit/s link and on local file
arrays (copy_file_range and XFS reflink), each flow migrating the volume
in turn. See ``volmig-bench run --help`` and doc/source/benchmark.rst.

Other sub-commands:

* ``probe`` - what this host offers: namespaces, loop devices, reflink.
* ``guest-build`` - build the tiny guest image (as
  ``python -m volmig_bench.guest build``).
* ``guest-check`` - boot the guest on libvirt, write, stop it, verify the
  disk by checksum; prints boot time, achieved rate and latency.
* ``nbd-nodelay`` - measure qemu-storage-daemon's accepted NBD sockets and
  parallel 64 KiB writes over a shaped link, with and without
  ``TCP_NODELAY``.
* ``report JSON`` - print the table and redraw the plot of a result file;
  ``report JSON JSON...`` - several fault scenario files in one table.
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
import warnings

# futurist imports eventlet, which warns at import; we never use it.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from oslo_service import backend  # noqa: E402

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
from volmig_bench import plan as plan_mod  # noqa: E402
from volmig_bench import report  # noqa: E402
from volmig_bench import xfs_pool  # noqa: E402

SUBCOMMANDS = ('run', 'probe', 'guest-build', 'guest-check', 'nbd-nodelay',
               'report', 'cleanup')


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
    for verdict in (result.mid_run, result.final):
        if verdict is not None and not verdict.passed:
            raise exception.WriterLogError(path='the guest disk',
                                           reason=str(verdict))
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


def build_plan(args) -> plan_mod.BenchPlan:
    """The plan from ``run``'s arguments (scenario defaults first)."""
    values = {}
    if args.scenario == 'convergence':
        values.update(plan_mod.convergence_defaults())
    if args.size is not None:
        values['sizes'] = (plan_mod.parse_volume_size(args.size),)
    if args.rate is not None:
        values['rates'] = (protocol.parse_rate(args.rate),)
    if args.sweep:
        axis, points = plan_mod.parse_sweep(args.sweep)
        values[axis] = points
    if args.backends is not None:
        values['backends'] = plan_mod.parse_backends(args.backends)
    if args.flows is not None:
        values['flows'] = plan_mod.parse_flows(args.flows)
    if args.link_rate_mbit is not None or args.link_latency_ms is not None:
        base = values.get('link', link.LinkSpec())
        values['link'] = link.LinkSpec(
            rate_bit=int((args.link_rate_mbit or base.rate_bit / 1e6)
                         * 1e6),
            latency_ms=args.link_latency_ms or base.latency_ms,
            delay_ms=args.link_delay_ms)
    if args.legacy_timeout is not None:
        values['legacy_timeout_s'] = args.legacy_timeout
    return plan_mod.BenchPlan(
        mix=protocol.parse_mix(args.mix), fraction=args.fraction,
        align=protocol.parse_size(args.align),
        repeat=args.repeat, link_mode=args.link_mode,
        warmup_s=args.warmup, gap_s=args.gap, tail_s=args.tail,
        seed=args.seed, scenario=args.scenario, sweep=args.sweep,
        **values)


def cmd_run(args) -> dict:
    from rich.console import Console

    from volmig_bench import checks
    from volmig_bench import runner

    if args.scenario == 'faults':
        return cmd_faults(args)
    console = Console()
    if not console.is_terminal:
        # A log or a pipe: keep the table's lines whole.
        console = Console(width=max(console.width, 220))
    if args.scenario == 'scale':
        from volmig_bench import scale
        return scale.cmd_run(args, _state_dir(args), console)
    plan = build_plan(args)
    result = runner.run(plan, _state_dir(args), out_root=args.out,
                        cache_dir=args.cache_dir, console=console)
    console.print(report.render_table(result))
    for line in report.render_summary(result) + [
            'note: %s' % note for note in result['notes']] + [
            'results: %s, %s (%.0f s)' % (
                result['files']['json'], result['files']['png'],
                result['elapsed_s'])]:
        console.print(line, highlight=False, markup=False)
    checks.verdict(result)
    return None


def cmd_faults(args) -> None:
    """``--scenario faults`` (:mod:`volmig_bench.faults`)."""
    from volmig_bench.faults import run as faults_run

    return faults_run.cmd_run(args, _state_dir(args))


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--size', default=None,
                        help='volume size, 16M to 16G (default 1G)')
    parser.add_argument('--rate', default=None,
                        help='guest write rate, decimal units (default '
                             '20M = 20 MB/s)')
    parser.add_argument('--mix', default='64k',
                        help='guest write sizes and weights, e.g. 64k or '
                             '4k:30,64k:60,1m:10')
    parser.add_argument('--align', default='4k',
                        help='guest write offsets are multiples of this '
                             '(default 4k, a file system block)')
    parser.add_argument('--fraction', type=float, default=0.6,
                        help='allocated share of the volume (default 0.6)')
    parser.add_argument('--backends', default=None,
                        help='link:array pairs (default nbd:cfr,file:cfr,'
                             'file:xfs)')
    parser.add_argument('--flows', default=None,
                        help='flows, in the order they alternate (default '
                             'new,legacy,new-write_blocking,new-rebase)')
    parser.add_argument('--repeat', type=int, default=1,
                        help='rounds of the flows per volume')
    parser.add_argument('--sweep', default=None,
                        help='sizes=1G,4G or rates=10M,20M,40M')
    parser.add_argument('--scenario', default='default',
                        choices=plan_mod.SCENARIOS + ('faults',),
                        help='convergence: 40 MB/s of writes over a 200 '
                             'Mbit/s link, nbd only; scale: --count '
                             'migrations at once on one host (64M volumes); '
                             'faults: every flow and fault case, each '
                             'acknowledged write verified '
                             '(volmig_bench.faults)')
    parser.add_argument('--count', type=int, default=32,
                        help='scale: concurrent migrations (default 32)')
    parser.add_argument('--queue-cap', type=int, default=None,
                        help="scale: Cinder's cap on running migrations "
                             'per backend, if this Cinder has one')
    parser.add_argument('--array-throughput', default='64M',
                        help="scale: the emulated array's copy engine, "
                             'bytes/s shared by all its copies (default '
                             '64M; 0: as fast as the host copies files)')
    parser.add_argument('--no-sequential', dest='sequential',
                        action='store_false',
                        help='scale: skip the one-by-one run (quicker '
                             'runs while investigating)')
    parser.add_argument('--faults', default=None,
                        help='faults scenario: cases by name prefix, '
                             'comma-separated (default all: none-*, '
                             'kill-compute-*, kill-cinder-*)')
    parser.add_argument('--link-rate-mbit', type=float, default=None,
                        help='storage link rate (default 1000)')
    parser.add_argument('--link-latency-ms', type=float, default=None,
                        help='queue bound of the link (default 10)')
    parser.add_argument('--link-delay-ms', type=float, default=0.0,
                        help='extra propagation delay (netem; default 0)')
    parser.add_argument('--link-mode', default='auto',
                        choices=('auto', 'netns', 'throttle-group'))
    parser.add_argument('--legacy-timeout', type=int, default=None,
                        help='seconds a legacy mirror may take to get '
                             'ready (default: 3x the link time of the '
                             'volume, at least 120)')
    parser.add_argument('--warmup', type=float, default=3.0)
    parser.add_argument('--gap', type=float, default=2.0,
                        help='seconds between migrations')
    parser.add_argument('--tail', type=float, default=2.0,
                        help='seconds of writes after the last migration')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--out', default='bench-results',
                        help='results directory (default bench-results)')
    parser.add_argument('--cache-dir', default=None,
                        help='guest build cache (default '
                             '~/.cache/nova-volmig/guest)')


def cmd_cleanup(args) -> dict:
    from volmig_bench import teardown

    # Deployments and domains first: they hold files in the pools.
    runs = teardown.cleanup_stale_runs(_state_dir(args))
    return {'runs': runs, 'namespaces': link.cleanup_stale(),
            'pools': xfs_pool.cleanup_stale(os.path.join(
                _state_dir(args), 'bench'))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='volmig-bench')
    parser.add_argument('--state-path', default=os.environ.get(
        'VOLMIG_BENCH_STATE', '/var/lib/nova-volmig'),
        help='where the bench keeps its deployment, volumes and pools '
             '(default $VOLMIG_BENCH_STATE or /var/lib/nova-volmig)')
    # Also accepted after the sub-command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--state-path', default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest='command', required=True)

    def add(name: str, **kw) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kw)

    add_run_arguments(add(
        'run', help='the benchmark (the default sub-command)'))
    add('probe', help='what this host offers the bench')
    gb = add('guest-build', help='build the tiny guest image')
    gb.add_argument('--dest', required=True)
    gb.add_argument('--cache-dir', default=None)
    guest_cli.add_writer_arguments(gb)
    gc = add('guest-check', help='boot the guest, write, verify; boot '
                                 'time and rate')
    gc.add_argument('--seconds', type=float, default=5.0)
    gc.add_argument('--size', default='64m', help='data disk size')
    gc.add_argument('--memory-mb', type=int, default=128)
    gc.add_argument('--cache-dir', default=None)
    guest_cli.add_writer_arguments(gc)
    nd = add('nbd-nodelay', help='TCP_NODELAY of NBD exports and what '
                                 'it costs')
    nd.add_argument('--link-rate-mbit', type=float, default=1000)
    nd.add_argument('--link-latency-ms', type=float, default=10)
    nd.add_argument('--count', type=int, default=300)
    rp = add('report', help='table and plot of a result file (or one '
                            'table of several fault scenario files)')
    rp.add_argument('json', nargs='+')
    rp.add_argument('--format', choices=('table', 'rst'), default='table',
                    help='rst: a list-table for the docs')
    add('cleanup', help='remove what killed runs left')
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a in SUBCOMMANDS or a in ('-h', '--help') for a in argv):
        argv = _with_default_command(argv)
    args = parser.parse_args(argv)
    handler = {'run': cmd_run, 'probe': cmd_probe,
               'guest-build': cmd_guest_build,
               'guest-check': cmd_guest_check,
               'nbd-nodelay': cmd_nbd_nodelay, 'report': report.command,
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
    if out is not None:
        print(json.dumps(out, indent=2))
    return 0


def _with_default_command(argv: list[str]) -> list[str]:
    """``volmig-bench [run options]`` means ``volmig-bench run ...``."""
    return ['run'] + argv


if __name__ == '__main__':
    sys.exit(main())
