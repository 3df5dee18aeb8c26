"""``python -m volmig_bench.guest build --dest DIR [writer options]``.

``python -m volmig_bench.guest verify --volume V --base B --log L``: check
a volume against the writes the guest acknowledged in its console log L
(the writer's parameters are read from the log); prints the counts as
JSON, exits 1 when an acknowledged write is lost.
"""

from __future__ import annotations

import argparse
import json
import sys

from oslo_service import backend

try:
    backend.init_backend(backend.BackendType.THREADING)
except Exception:  # noqa: S110 - already initialised by the caller
    pass

from volmig_bench import exception  # noqa: E402
from volmig_bench.guest import builder  # noqa: E402
from volmig_bench.guest import protocol  # noqa: E402
from volmig_bench.guest import verify  # noqa: E402


def add_writer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--rate', default='20M',
                        help='guest write rate, bytes/s with decimal units '
                             '(20M = 20 MB/s; 0 = as fast as possible)')
    parser.add_argument('--mix', default='64k',
                        help='write sizes and weights, e.g. 64k or '
                             '4k:30,64k:60,1m:10')
    parser.add_argument('--device', default='auto',
                        help='auto, /dev/vdX or serial:<prefix>')
    parser.add_argument('--duration', type=float, default=0.0,
                        help='seconds to write (0: until the ACPI power '
                             'button)')
    parser.add_argument('--count', type=int, default=0)
    parser.add_argument('--window-ms', type=int, default=100)
    parser.add_argument('--align', default='4k',
                        help='offsets are multiples of this (default 4k)')
    parser.add_argument('--sync-every', type=int, default=1,
                        help='writes per fdatasync, each batch acknowledged '
                             'once durable (default 1; 0: one fsync at the '
                             'end, nothing acknowledged before)')


def writer_params(args: argparse.Namespace) -> protocol.WriterParams:
    return protocol.WriterParams(
        seed=args.seed, rate=protocol.parse_rate(args.rate),
        mix=protocol.parse_mix(args.mix), device=args.device,
        duration=args.duration, count=args.count,
        window_ms=args.window_ms, align=protocol.parse_size(args.align),
        sync_every=args.sync_every)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m volmig_bench.guest')
    sub = parser.add_subparsers(dest='command', required=True)
    build = sub.add_parser('build', help='build the guest image directory')
    build.add_argument('--dest', required=True)
    build.add_argument('--cache-dir', default=None,
                       help='default: %s' % builder.default_cache_dir())
    add_writer_arguments(build)
    check = sub.add_parser('verify', help='check a volume against the '
                           'writes the guest acknowledged')
    check.add_argument('--volume', required=True,
                       help='the volume: a file or block device')
    check.add_argument('--base', required=True,
                       help='the volume as it was before the guest wrote')
    check.add_argument('--log', required=True,
                       help="the writer's console log (so far)")
    args = parser.parse_args(argv)
    try:
        if args.command == 'verify':
            # Complete lines only: the writer may be mid-line.
            log = protocol.WriterLogReader(args.log).poll()
            verdict = verify.verify_log(args.volume, args.base,
                                        verify.params_from_header(log), log)
            print(json.dumps(verdict.as_dict(), indent=2))
            return 0 if verdict.passed else 1
        image = builder.build(args.dest, writer_params(args),
                              cache_dir=args.cache_dir)
    except exception.BenchError as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 1
    print(json.dumps({'path': image.path, 'cmdline': image.cmdline,
                      'kernel_package': image.manifest['kernel_package'],
                      'modules': image.manifest['modules']}, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
