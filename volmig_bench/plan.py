"""What one bench run measures: the matrix, the load, the link.

A :class:`BenchPlan` is built from the command line (or a test) and
validated up front, so bad input fails before anything is set up. It
expands into :class:`Case`\\ s: one backend x volume size x guest write
rate each, i.e. one volume, one guest and ``repeat`` rounds of the flows
migrating it back and forth between the backend's two pools.
"""

from __future__ import annotations

import dataclasses
import itertools
import re

from volmig_bench import exception
from volmig_bench import flows as flows_mod
from volmig_bench.guest import protocol
from volmig_bench import link
from volmig_bench import results

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

LINKS = ('nbd', 'file')
ARRAYS = ('cfr', 'xfs-reflink')
MIN_SIZE = 16 * MiB
MAX_SIZE = 16 * GiB
SCENARIOS = ('default', 'convergence', 'scale')


@dataclasses.dataclass(frozen=True)
class Backend:
    """One array kind reached over one storage link."""

    link: str
    array: str

    def __post_init__(self):
        if self.link not in LINKS or self.array not in ARRAYS:
            raise exception.InvalidParameter(
                name='backend', value='%s:%s' % (self.link, self.array),
                reason='links are %s, arrays %s' % (', '.join(LINKS),
                                                    ', '.join(ARRAYS)))

    @property
    def name(self) -> str:
        """The Cinder backend (config group) name."""
        return '%s_%s' % (self.link, self.array.replace('-', '_'))

    def __str__(self) -> str:
        return '%s:%s' % (self.link, self.array)


DEFAULT_BACKENDS = (Backend('nbd', 'cfr'), Backend('file', 'cfr'),
                    Backend('file', 'xfs-reflink'))


def parse_backends(text: str) -> tuple[Backend, ...]:
    """``'nbd:cfr,file:xfs'`` (``xfs`` short for ``xfs-reflink``)."""
    backends = []
    for part in filter(None, (p.strip() for p in text.split(','))):
        link_name, _, array = part.partition(':')
        array = {'xfs': 'xfs-reflink', '': 'cfr'}.get(array, array)
        backends.append(Backend(link_name, array))
    if not backends or len(set(backends)) != len(backends):
        raise exception.InvalidParameter(
            name='backends', value=text,
            reason='a comma list of distinct link:array pairs, e.g. '
                   'nbd:cfr,file:cfr,file:xfs')
    return tuple(backends)


def parse_flows(text: str) -> tuple[str, ...]:
    """``'new,legacy'``: registered flows (:mod:`volmig_bench.flows`)."""
    flows = tuple(f.strip() for f in text.split(',') if f.strip())
    bad = [f for f in flows if f not in flows_mod.FLOWS]
    if bad or not flows or len(set(flows)) != len(flows):
        raise exception.InvalidParameter(
            name='flows', value=text,
            reason='a comma list of distinct flows among %s'
                   % ', '.join(flows_mod.names()))
    if flows_mod.BASELINE not in flows or \
            not any(not flows_mod.is_baseline(f) for f in flows):
        raise exception.InvalidParameter(
            name='flows', value=text,
            reason='the bench compares: give legacy and at least one new '
                   'flow')
    return flows


def parse_volume_size(text: str) -> int:
    size = protocol.parse_size(text)
    if not MIN_SIZE <= size <= MAX_SIZE or size % MiB:
        raise exception.InvalidParameter(
            name='size', value=text,
            reason='between 16M and 16G, a whole number of MiB')
    return size


def parse_sweep(text: str) -> tuple[str, tuple]:
    """``sizes=1G,4G`` or ``rates=10M,20M,40M``."""
    m = re.fullmatch(r'\s*(sizes|rates)\s*=\s*(.+)', text)
    if not m:
        raise exception.InvalidParameter(
            name='sweep', value=text,
            reason='sizes=1G,4G or rates=10M,20M,40M')
    values = [v.strip() for v in m.group(2).split(',') if v.strip()]
    parse = parse_volume_size if m.group(1) == 'sizes' else \
        protocol.parse_rate
    parsed = tuple(parse(v) for v in values)
    if len(set(parsed)) != len(parsed) or not parsed:
        raise exception.InvalidParameter(name='sweep', value=text,
                                         reason='distinct values')
    return m.group(1), parsed


@dataclasses.dataclass(frozen=True)
class Case:
    """One guest run: one volume, one guest, every flow ``repeat`` times.

    The volume has ``size`` bytes on ``backend``; the guest writes at
    ``rate``.
    """

    index: int
    backend: Backend
    size: int
    rate: int

    @property
    def label(self) -> str:
        return '%s %s %s MB/s' % (results.format_size(self.size),
                                  self.backend, '%g' % (self.rate / 1e6))


@dataclasses.dataclass(frozen=True)
class BenchPlan:
    """Everything a run needs to know; recorded in the result."""

    sizes: tuple[int, ...] = (GiB,)
    rates: tuple[int, ...] = (20 * 10 ** 6,)
    mix: protocol.Mix = ((64 * KiB, 1),)
    #: guest write offsets are multiples of this
    align: int = 4 * KiB
    fraction: float = 0.6
    backends: tuple[Backend, ...] = DEFAULT_BACKENDS
    flows: tuple[str, ...] = ('new', 'legacy', 'new-write_blocking',
                              'new-rebase')
    repeat: int = 1
    link: link.LinkSpec = link.LinkSpec()
    #: 'auto' (namespace, else throttle group), 'netns', 'throttle-group'
    link_mode: str = 'auto'
    warmup_s: float = 3.0
    gap_s: float = 2.0
    tail_s: float = 2.0
    #: Nova's block_job_ready_timeout: a legacy mirror that is not ready
    #: by then is aborted and reported as not converged (None: three
    #: times the link's time for the largest volume, at least 120 s)
    legacy_timeout_s: int | None = None
    #: Nova's block_job_progress_window (convergence throttling)
    progress_window_s: float = 5.0
    seed: int = 1
    scenario: str = 'default'
    sweep: str | None = None

    def __post_init__(self):
        protocol.WriterParams(mix=self.mix, align=self.align)
        if not 0 < self.fraction <= 1:
            raise exception.InvalidParameter(
                name='fraction', value=self.fraction,
                reason='allocated share of the volume, in (0, 1]')
        if self.repeat < 1 or self.repeat > 20:
            raise exception.InvalidParameter(name='repeat',
                                             value=self.repeat,
                                             reason='1 to 20')
        for name in ('warmup_s', 'gap_s', 'tail_s'):
            if not 0 <= getattr(self, name) <= 600:
                raise exception.InvalidParameter(
                    name=name, value=getattr(self, name),
                    reason='0 to 600 seconds')
        if self.legacy_timeout_s is not None and \
                not 10 <= self.legacy_timeout_s <= 3600:
            raise exception.InvalidParameter(
                name='legacy timeout', value=self.legacy_timeout_s,
                reason='10 to 3600 seconds')
        if self.link_mode not in ('auto', 'netns', 'throttle-group'):
            raise exception.InvalidParameter(
                name='link mode', value=self.link_mode,
                reason='auto, netns or throttle-group')
        if self.scenario not in SCENARIOS:
            raise exception.InvalidParameter(
                name='scenario', value=self.scenario,
                reason=', '.join(SCENARIOS))
        for size in self.sizes:
            if not MIN_SIZE <= size <= MAX_SIZE:
                raise exception.InvalidParameter(
                    name='size', value=size, reason='16 MiB to 16 GiB')
            if max(s for s, _ in self.mix) > size:
                raise exception.InvalidParameter(
                    name='write mix', value=self.mix,
                    reason='a write larger than the volume')
        for rate in self.rates:
            if rate <= 0:
                raise exception.InvalidParameter(
                    name='rate', value=rate,
                    reason='the bench needs a steady write load (> 0)')
        parse_flows(','.join(self.flows))

    def cases(self) -> list[Case]:
        """Backends innermost, so a sweep's points are side by side."""
        return [Case(i, backend, size, rate) for i, (size, rate, backend)
                in enumerate(itertools.product(self.sizes, self.rates,
                                               self.backends))]

    @property
    def migrations_per_case(self) -> int:
        return self.repeat * len(self.flows)

    def describe(self) -> dict:
        return {
            'sizes': list(self.sizes), 'rates': list(self.rates),
            'mix': protocol.format_mix(self.mix), 'align': self.align,
            'fraction': self.fraction,
            'backends': [str(b) for b in self.backends],
            'flows': list(self.flows), 'repeat': self.repeat,
            'link': {'rate_bit': self.link.rate_bit,
                     'latency_ms': self.link.latency_ms,
                     'delay_ms': self.link.delay_ms,
                     'mode': self.link_mode},
            'warmup_s': self.warmup_s, 'gap_s': self.gap_s,
            'tail_s': self.tail_s,
            'legacy_timeout_s': self.legacy_timeout_s,
            'progress_window_s': self.progress_window_s,
            'seed': self.seed, 'scenario': self.scenario,
            'sweep': self.sweep,
        }


def convergence_defaults() -> dict:
    """``--scenario convergence``: 40 MB/s of writes over 200 Mbit/s."""
    return {'rates': (40 * 10 ** 6,), 'link': link.LinkSpec(
        rate_bit=200 * 10 ** 6, latency_ms=10.0),
        'backends': (Backend('nbd', 'cfr'),),
        'progress_window_s': 2.0}
