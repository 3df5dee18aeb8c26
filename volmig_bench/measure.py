"""From what was observed during one migration to one result row.

Everything here is arithmetic on recorded facts, kept apart from the run
so that it can be tested without QEMU:

* times on the host's monotonic clock (the bench's own observations and
  libvirt's block-job events) and server timestamps (Cinder's phase
  times, Nova's record), mapped onto it by :class:`WallClock`;
* the guest writer's latency timeline (:mod:`volmig_bench.stats`);
* byte counters read before and after;

and, once every row is in, the means per configuration with the ratios
of the baseline (legacy) to each new flow (:func:`summarize`).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from volmig_bench import deploy
from volmig_bench.events import BlockJobEvent
from volmig_bench import flows
from volmig_bench import plan as plan_mod
from volmig_bench import results
from volmig_bench import stats


@dataclasses.dataclass(frozen=True)
class WallClock:
    """monotonic = wall - offset, sampled once (same host, same run)."""

    offset_s: float

    @classmethod
    def now(cls) -> 'WallClock':
        return cls(time.time() - time.monotonic())

    def to_monotonic(self, wall: float | None) -> float | None:
        return None if wall is None else wall - self.offset_s

    def server_time(self, text: str | None) -> float | None:
        """A server's naive-UTC ISO timestamp on the monotonic axis."""
        return self.to_monotonic(deploy.parse_time(text))


@dataclasses.dataclass
class Observation:
    """What the bench saw of one migration."""

    flow: str
    iteration: int
    #: monotonic: just before the migrate call, and when the migration
    #: was seen over (Cinder done and, for new flows, Nova's finish)
    called_at: float
    ended_at: float
    #: start of the quiet period before the call ("before" latencies)
    quiet_since: float
    status: str
    error: str | None
    cinder_record: dict
    nova_record: dict | None
    events: list[BlockJobEvent]
    #: (to the array, from the array) at the compute host's link end
    link_bytes: tuple[int, int] | None = None
    #: read + write bytes of the QEMU process (file links)
    qemu_io_bytes: int | None = None
    link_kind: str = 'local'


def _span(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round(end - start, 6)


def pivots(events: list[BlockJobEvent]) -> list[tuple[float, float]]:
    """(ready, completed) of every pivoted mirror job, in order."""
    out = []
    ready: dict[tuple[str, str], float] = {}
    for event in events:
        key = (event.disk, event.job)
        if event.status == 'ready':
            ready.setdefault(key, event.at)
        elif event.status == 'completed' and key in ready:
            out.append((ready.pop(key), event.at))
    return out


def first_ready(events: list[BlockJobEvent], job: str) -> float | None:
    for event in events:
        if event.job == job and event.status == 'ready':
            return event.at
    return None


def build_row(obs: Observation, case: plan_mod.Case,
              timeline: stats.LatencyTimeline | None, clock: WallClock,
              raw_copy_s: float | None, legacy_timeout_s: float,
              guest_bytes=None) -> dict:
    """The result row of one migration (schema volmig-bench/1).

    ``guest_bytes(from, to)`` gives the bytes the guest issued in a host
    time interval and the bytes of the 64 KiB chunks they touched, when
    known.
    """
    record = obs.cinder_record or {}
    phases = {k: clock.server_time(v)
              for k, v in (record.get('phase_times') or {}).items()}
    flow = flows.get(obs.flow)
    legacy = flow.baseline
    values = {
        'phases_s': {k: round(v - obs.called_at, 4)
                     for k, v in sorted(phases.items(),
                                        key=lambda kv: kv[1])},
        'total_s': _span(obs.called_at, obs.ended_at),
        'cinder_done_s': _span(obs.called_at,
                               clock.server_time(record.get('finished_at'))),
        'copy_method': record.get('copy_method'),
        'complete_mode': flow.complete_mode,
        'error': obs.error,
    }
    if obs.link_bytes is not None:
        to_array, from_array = obs.link_bytes
        values['bytes_through_compute'] = to_array + from_array
        values['bytes_to_array'] = to_array
        values['bytes_from_array'] = from_array
        values['bytes_source'] = 'link counters'
    elif obs.qemu_io_bytes is not None:
        values['bytes_through_compute'] = obs.qemu_io_bytes
        values['bytes_source'] = 'qemu process io'
    else:
        values['bytes_source'] = None
    if guest_bytes is not None:
        values['guest_bytes_during'], values['guest_chunk_bytes_during'] = \
            guest_bytes(obs.called_at, obs.ended_at)
    block = {'start': None, 'pivots': []}
    if timeline is not None:
        if not legacy and phases.get('nova_start_called') is not None:
            block['start'] = timeline.in_flight_max_s(
                phases['nova_start_called'], phases['nova_start_returned'])
        # The switch happens just before the job's completed event.
        block['pivots'] = [timeline.in_flight_max_s(done, done)
                           for _, done in pivots(obs.events)]
        values['guest_latency'] = {
            'before': timeline.phase(obs.quiet_since,
                                     obs.called_at).as_dict(),
            'during': timeline.phase(obs.called_at,
                                     obs.ended_at).as_dict()}
    values['write_block_s'] = block
    if legacy:
        ready = first_ready(obs.events, 'copy')
        done = [d for _, d in pivots(obs.events)]
        called = phases.get('swap_called', obs.called_at)
        values['legacy_converged'] = bool(done) and \
            obs.status == 'success'
        # Converged = the mirror caught up and the guest switched; "ready"
        # comes first, and the pivot may wait long after it for the
        # mirror to be fully in sync again.
        values['converge_s'] = _span(called, done[0] if done else None)
        values['ready_s'] = _span(called, ready)
        if ready is None and obs.status != 'success':
            values['error'] = ('did not converge: the mirror was not '
                               'ready after %d s (Nova aborted it; the '
                               'guest stayed on the source)'
                               % legacy_timeout_s)
    else:
        values['raw_copy_s'] = raw_copy_s
        values['copy_phase_s'] = _span(phases.get('copy_started'),
                                       phases.get('copy_finished'))
        values['cinder_complete_wait_s'] = _span(
            phases.get('nova_complete_called'),
            phases.get('nova_complete_returned'))
        nova = obs.nova_record or {}
        if nova.get('status') == 'completed':
            values['nova_finish_s'] = _span(
                phases.get('nova_complete_returned'),
                clock.server_time(nova.get('updated_at')))
    row = results.new_row(obs.flow, case.backend.link, obs.link_kind,
                          case.backend.array, case.size, obs.iteration,
                          **values)
    row['rate'] = case.rate
    row['status'] = obs.status
    row['id'] = '%s-%s' % (row['id'], '%gm' % (case.rate / 1e6))
    return row


def summarize(rows: list[dict]) -> list[dict]:
    """Mean per (size, rate, link, array, flow), ratios to legacy."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row['size'], row.get('rate'), row['link'], row['array'],
               row['flow'])
        groups.setdefault(key, []).append(row)

    def mean(values):
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    out = []
    for key, members in groups.items():
        size, rate, link_name, array, flow = key
        ok = [r for r in members if r['status'] == 'success']
        entry = {'size': size, 'rate': rate, 'link': link_name,
                 'array': array, 'flow': flow, 'n': len(members),
                 'succeeded': len(ok),
                 'total_s': mean(r['total_s'] for r in ok),
                 'bytes': mean(r['bytes_through_compute'] for r in ok),
                 'complete_wait_s': mean(r['cinder_complete_wait_s']
                                         for r in ok),
                 'p99_during_ms': mean(r['guest_latency']['during']['p99_ms']
                                       for r in ok)}
        out.append(entry)
    for entry in out:
        if flows.is_baseline(entry['flow']):
            continue
        legacy = next((e for e in out if flows.is_baseline(e['flow'])
                       and all(e[k] == entry[k]
                               for k in ('size', 'rate', 'link', 'array'))),
                      None)
        if legacy is None:
            continue
        for what, key in (('time', 'total_s'), ('bytes', 'bytes')):
            if legacy[key] and entry[key]:
                entry['%s_ratio' % what] = round(legacy[key] / entry[key],
                                                 2)
            elif legacy['succeeded'] == 0 and what == 'time':
                entry['time_ratio'] = None
                entry['legacy_did_not_finish'] = True
    return out
