"""The guest writer's parameters and the lines it reports.

The writer (``writer.c``) takes its parameters as ``volmig.*`` words of the
kernel command line (the guest's ``/init`` turns them into arguments) and
reports over the virtio console (hvc0) in the line protocol documented at
the top of ``writer.c``. :class:`WriterLogReader` tails that log while the
guest runs and records when each line arrived on the host, which is what
maps guest time onto host time (:class:`volmig_bench.stats.ClockMap`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time

from volmig_bench import exception

SECTOR = 4096
#: the version on the writer's H line; 2 added A lines and sync_every
PROTOCOL_VERSION = 2
MAX_SYNC_EVERY = 4096
_SIZE_UNITS = {'': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30}
_RATE_UNITS = {'': 1, 'k': 10 ** 3, 'm': 10 ** 6, 'g': 10 ** 9}

Mix = tuple[tuple[int, int], ...]


def parse_size(text: str) -> int:
    """``'64k'`` -> 65536: binary units k, m, g (as the writer reads them)."""
    m = re.fullmatch(r'\s*(\d+)\s*([kmgKMG]?)(?:i?[bB])?\s*', str(text))
    if not m:
        raise exception.InvalidParameter(name='size', value=text,
                                         reason='expected e.g. 64k, 1m')
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


def parse_rate(text: str | int) -> int:
    """Bytes per second; decimal units (``'20M'`` = 20 MB/s = 20e6)."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([kmgKMG]?)(?:[bB](?:/s)?)?\s*',
                     text)
    if not m:
        raise exception.InvalidParameter(name='rate', value=text,
                                         reason='expected e.g. 20M or '
                                                '20MB/s')
    return int(float(m.group(1)) * _RATE_UNITS[m.group(2).lower()])


def parse_mix(spec: str) -> Mix:
    """``'4k:30,64k:60,1m:10'`` -> ``((4096, 30), (65536, 60), ...)``.

    A size without a weight weighs 1. Sizes must be multiples of 4 KiB, the
    O_DIRECT alignment the writer uses.
    """
    mix = []
    for part in spec.split(','):
        size_text, _, weight_text = part.partition(':')
        size = parse_size(size_text)
        try:
            weight = int(weight_text) if weight_text else 1
        except ValueError:
            weight = 0
        if size <= 0 or size % SECTOR or weight <= 0:
            raise exception.InvalidParameter(
                name='write mix', value=spec,
                reason='sizes must be positive multiples of 4k and '
                       'weights positive integers')
        mix.append((size, weight))
    if len(mix) > 16:
        raise exception.InvalidParameter(name='write mix', value=spec,
                                         reason='at most 16 sizes')
    return tuple(mix)


def format_mix(mix: Mix) -> str:
    return ','.join('%d:%d' % (size, weight) for size, weight in mix)


@dataclasses.dataclass(frozen=True)
class WriterParams:
    """What the guest writer does; all of it is recorded in the results."""

    seed: int = 1
    #: bytes per second; 0 writes as fast as queue depth 1 allows
    rate: int = 20 * 10 ** 6
    mix: Mix = ((64 * 1024, 1),)
    #: ``auto`` (first virtio disk, waited for), ``/dev/vdX`` or
    #: ``serial:<prefix>`` (a disk whose serial, e.g. volume id, matches)
    device: str = 'auto'
    #: stop after this many seconds (0: only on power button / count)
    duration: float = 0.0
    #: stop after this many writes (0: no limit)
    count: int = 0
    window_ms: int = 100
    #: a schedule behind by more than this is reset, never burst
    max_lag_ms: int = 1000
    #: seconds the writer waits for its disk to appear
    wait_dev: float = 300.0
    #: offsets are multiples of this (4 KiB: a file system's blocks)
    align: int = SECTOR
    #: writes per fdatasync(), each batch acknowledged (an A line) once it
    #: returned; 1: every write. 0: one fsync at the end (the version 1
    #: writer: nothing is acknowledged before it stops)
    sync_every: int = 1

    def __post_init__(self):
        if self.seed < 0 or self.seed >= 2 ** 64:
            raise exception.InvalidParameter(name='seed', value=self.seed,
                                             reason='must fit in 64 bits')
        if self.rate < 0 or self.window_ms <= 0:
            raise exception.InvalidParameter(
                name='rate/window', value=(self.rate, self.window_ms),
                reason='must be positive')
        if self.align <= 0 or self.align % SECTOR:
            raise exception.InvalidParameter(
                name='align', value=self.align,
                reason='a positive multiple of 4k')
        if not 0 <= self.sync_every <= MAX_SYNC_EVERY:
            raise exception.InvalidParameter(
                name='sync_every', value=self.sync_every,
                reason='0 to %d writes' % MAX_SYNC_EVERY)
        if not re.fullmatch(r'auto|/dev/[\w/.-]+|serial:[\w-]+',
                            self.device):
            raise exception.InvalidParameter(
                name='device', value=self.device,
                reason='auto, /dev/<name> or serial:<prefix>')

    @property
    def max_write_size(self) -> int:
        return max(size for size, _ in self.mix)

    def argv(self) -> list[str]:
        """Arguments of ``volmig-writer``."""
        return ['--dev', self.device, '--seed', str(self.seed),
                '--rate', str(self.rate), '--mix', format_mix(self.mix),
                '--count', str(self.count),
                '--duration', repr(float(self.duration)),
                '--window-ms', str(self.window_ms),
                '--max-lag-ms', str(self.max_lag_ms),
                '--wait-dev', repr(float(self.wait_dev)),
                '--align', str(self.align),
                '--sync-every', str(self.sync_every)]

    def kernel_args(self) -> str:
        """The ``volmig.*`` words of the kernel command line."""
        argv = self.argv()
        return ' '.join('volmig.%s=%s' % (argv[i][2:], argv[i + 1])
                        for i in range(0, len(argv), 2))

    @classmethod
    def from_kernel_args(cls, cmdline: str) -> 'WriterParams':
        values = dict(word[len('volmig.'):].split('=', 1)
                      for word in cmdline.split()
                      if word.startswith('volmig.') and '=' in word)
        return cls(seed=int(values.get('seed', 1)),
                   rate=int(values.get('rate', 0)),
                   mix=parse_mix(values.get('mix', '64k')),
                   device=values.get('dev', 'auto'),
                   duration=float(values.get('duration', 0)),
                   count=int(values.get('count', 0)),
                   window_ms=int(values.get('window-ms', 100)),
                   max_lag_ms=int(values.get('max-lag-ms', 1000)),
                   wait_dev=float(values.get('wait-dev', 300)),
                   align=int(values.get('align', SECTOR)),
                   sync_every=int(values.get('sync-every', 1)))


@dataclasses.dataclass
class Window:
    """Writes issued during one window of the writer's clock."""

    index: int
    latencies_us: list[int]
    #: host monotonic time at which the line was read (None: from a file
    #: parsed after the fact)
    arrived: float | None = None


@dataclasses.dataclass(frozen=True)
class Ack:
    """An A line: writes ``first..last`` (inclusive) are durable."""

    first: int
    last: int
    #: offset and length of write ``last``, as the guest computed them
    offset: int
    length: int
    arrived: float | None = None


@dataclasses.dataclass
class Done:
    count: int
    bytes: int
    fsync_us: int
    reason: str
    ok: bool


@dataclasses.dataclass
class WriterLog:
    """Everything the writer reported so far."""

    header: dict[str, str] = dataclasses.field(default_factory=dict)
    t0_us: int | None = None
    #: host monotonic time at which the S line was read
    started_at: float | None = None
    windows: list[Window] = dataclasses.field(default_factory=list)
    #: (seq, lag_us) of schedule resets
    lags: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    #: the last A line (None: nothing acknowledged yet)
    last_ack: Ack | None = None
    #: number of A lines read
    ack_lines: int = 0
    done: Done | None = None
    #: lines that are not the writer's (init messages, noise)
    other: list[str] = dataclasses.field(default_factory=list)

    @property
    def window_us(self) -> int:
        return int(self.header.get('window_us', 100000))

    @property
    def version(self) -> int:
        """The writer's protocol version (0: no H line yet)."""
        return int(self.header.get('version', 0))

    @property
    def acked(self) -> int:
        """Writes acknowledged so far (0..acked-1): from the A lines."""
        return self.last_ack.last + 1 if self.last_ack else 0

    @property
    def reported_writes(self) -> int:
        return sum(len(w.latencies_us) for w in self.windows)

    @property
    def acknowledged(self) -> int:
        """Writes the guest saw completed, as stated after its fsync."""
        if self.done is None:
            raise exception.WriterLogError(
                path='-', reason='the writer has not finished (no D line): '
                                 'its acknowledged count is unknown')
        return self.done.count

    def _feed_ack(self, rest: str, arrived: float | None) -> None:
        first, last, *words = rest.split()
        v = dict(word.split('=', 1) for word in words)
        ack = Ack(int(first), int(last), int(v['off']), int(v['len']),
                  arrived)
        # The writer is sequential: a gap or overlap means lost lines.
        if ack.first != self.acked or ack.last < ack.first:
            raise ValueError('acknowledges %d..%d after %d writes'
                             % (ack.first, ack.last, self.acked))
        self.last_ack = ack
        self.ack_lines += 1

    def feed(self, line: str, arrived: float | None = None) -> None:
        line = line.strip('\r\n\x00 ')
        kind, _, rest = line.partition(' ')
        try:
            if kind == 'H':
                words = rest.split()
                self.header = dict(word.split('=', 1) for word in words
                                   if '=' in word)
                self.header['version'] = words[1]
            elif kind == 'A':
                self._feed_ack(rest, arrived)
            elif kind == 'S':
                self.t0_us = int(rest.split('=', 1)[1])
                self.started_at = arrived
            elif kind == 'L':
                fields = [int(v) for v in rest.split()]
                index, count, lats = fields[0], fields[1], fields[2:]
                if len(lats) != count:
                    raise ValueError('window %d says %d writes, lists %d'
                                     % (index, count, len(lats)))
                self.windows.append(Window(index, lats, arrived))
            elif kind == 'G':
                seq, lag = rest.split()
                self.lags.append((int(seq), int(lag)))
            elif kind == 'E':
                self.errors.append(rest)
            elif kind == 'D':
                v = dict(word.split('=', 1) for word in rest.split())
                self.done = Done(int(v['count']), int(v['bytes']),
                                 int(v['fsync_us']), v['reason'],
                                 v['status'] == 'ok')
            elif line:
                self.other.append(line)
        except (ValueError, KeyError, IndexError) as exc:
            raise exception.WriterLogError(
                path='-', reason='bad line %r: %s' % (line[:80], exc))


class WriterLogReader:
    """Tails a writer log file (the virtio console log) as it grows."""

    def __init__(self, path: str, clock=time.monotonic):
        self.path = path
        self.log = WriterLog()
        self._clock = clock
        self._offset = 0
        self._partial = b''

    def poll(self) -> WriterLog:
        """Read what was appended since the last call."""
        try:
            with open(self.path, 'rb') as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self.log
        now = self._clock()
        self._offset += len(data)
        lines = (self._partial + data).split(b'\n')
        self._partial = lines.pop()
        for raw in lines:
            self.log.feed(raw.decode('ascii', 'replace'), now)
        return self.log

    def wait_for(self, predicate, timeout: float, interval: float = 0.05
                 ) -> WriterLog:
        """Poll until ``predicate(log)`` holds; raise after ``timeout``."""
        deadline = self._clock() + timeout
        while True:
            log = self.poll()
            if predicate(log):
                return log
            if log.errors:
                raise exception.WriterLogError(
                    path=self.path, reason='writer error: %s'
                    % '; '.join(log.errors))
            if self._clock() > deadline:
                raise exception.WriterLogError(
                    path=self.path, reason='condition not met within %.0f s'
                    % timeout)
            time.sleep(interval)


def parse_file(path: str) -> WriterLog:
    """Parse a finished writer log."""
    if not os.path.exists(path):
        raise exception.WriterLogError(path=path, reason='no such file')
    reader = WriterLogReader(path, clock=lambda: None)
    log = reader.poll()
    if reader._partial:
        log.feed(reader._partial.decode('ascii', 'replace'))
    return log
