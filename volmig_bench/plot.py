"""The result's plot: time and bytes per migration, the sweep, latencies.

One PNG (matplotlib, Agg) per result file; the colours and the words of
each flow come from the registry (:mod:`volmig_bench.flows`).
"""

from __future__ import annotations

import os

from volmig_bench import flows
from volmig_bench import results


def _log_if_wide(ax, values) -> None:
    positive = [v for v in values if v > 0]
    if positive and max(positive) > 30 * min(positive):
        ax.set_yscale('log')


FLOW_COLORS = {f.name: f.color for f in flows.FLOWS.values()}


def _sweep_axis(rows: list[dict]) -> str | None:
    if len({r['size'] for r in rows}) > 1:
        return 'size'
    if len({r.get('rate') for r in rows}) > 1:
        return 'rate'
    return None


def _plot_sweep(ax, rows: list[dict], axis: str) -> None:
    import numpy as np

    lines: dict[tuple, dict] = {}
    for r in rows:
        if r['total_s'] is None or r.get('status') == 'error':
            continue
        key = (r['link'], r['array'], r['flow'])
        if axis == 'size':
            x = r['size'] / 2 ** 30
        else:
            x = (r.get('rate') or 0) / 1e6
        lines.setdefault(key, {}).setdefault(x, []).append(r['total_s'])
    for (link, array, flow), points in sorted(lines.items()):
        xs = sorted(points)
        ax.plot(xs, [float(np.mean(points[x])) for x in xs], marker='o',
                color=FLOW_COLORS.get(flow),
                linestyle='-' if link == 'nbd' else '--',
                label='%s %s %s' % (link, array, flow))
    ax.set_xlabel('volume size, GiB' if axis == 'size'
                  else 'guest write rate, MB/s')
    ax.set_ylabel('total seconds')
    ax.set_title('How each flow grows with %s' % axis)
    ax.legend(fontsize=7, ncol=2)


def _plot_series(ax, name: str, series: dict) -> None:
    ax.plot(series['t_s'], series['p99_ms'], color='tab:red', linewidth=1,
            label='p99')
    ax.plot(series['t_s'], series['p50_ms'], color='tab:green',
            linewidth=1, label='p50')
    starts = {}
    for ev in series.get('events', []):
        flow, _, what = ev['name'].rpartition(' ')
        if what == 'start':
            starts[flow] = ev['t_s']
        elif what == 'end' and flow in starts:
            ax.axvspan(starts.pop(flow), ev['t_s'], alpha=0.25,
                       color=FLOW_COLORS.get(flow, 'tab:orange'),
                       label=flow)
    ax.set_yscale('log')
    ax.set_ylabel('write latency, ms')
    ax.set_title('Guest writes, %s (shaded: migrations)' % name,
                 fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7, ncol=5)


def write_plot(result: dict, path: str) -> str:
    """A PNG: time and bytes per migration, the sweep, latency over time."""
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    rows = result['rows']
    series = list((result.get('timeseries') or {}).items())[:6]
    sweep = _sweep_axis(rows)
    panels = 2 + (1 if sweep else 0) + len(series)
    fig, axes = plt.subplots(panels, 1, figsize=(12, 3.6 * panels),
                             constrained_layout=True, squeeze=False)
    axes = list(axes[:, 0])
    rates = len({r.get('rate') for r in rows}) > 1
    labels = ['%s%s\n%s %s\n%s' % (
        results.format_size(r['size']),
        ' %g MB/s' % ((r.get('rate') or 0) / 1e6) if rates else '',
        r['link'], r['array'], r['flow']) for r in rows]
    colors = [FLOW_COLORS.get(r['flow'], 'tab:blue') for r in rows]
    x = range(len(rows))

    ax = axes.pop(0)
    total = [r['total_s'] or 0 for r in rows]
    ax.bar(x, total, color=colors, label='total')
    wait = [r['cinder_complete_wait_s'] or 0 for r in rows]
    ax.bar(x, wait, color='tab:orange', width=0.4,
           label='Cinder waits in complete')
    raw = [r['raw_copy_s'] for r in rows]
    ax.scatter([i for i, v in zip(x, raw) if v is not None],
               [v for v in raw if v is not None], marker='_', s=400,
               color='black', label='array raw copy (limit)', zorder=3)
    for i, r in enumerate(rows):
        if flows.is_baseline(r['flow']) and r['legacy_converged'] is False:
            ax.annotate('did not converge', (i, total[i]), ha='center',
                        va='bottom', fontsize=8, color='tab:red')
        if not r['checksum_ok']:
            ax.annotate('CHECKSUM', (i, 0), ha='center', va='bottom',
                        fontsize=8, color='tab:red', rotation=90)
    _log_if_wide(ax, total)
    ax.set_ylabel('seconds')
    ax.set_title('Volume migration time (%s)' % ', '.join(
        f.legend for f in flows.FLOWS.values()))
    ax.set_xticks(list(x), labels, fontsize=7)
    ax.legend(fontsize=8)

    ax = axes.pop(0)
    through = [(r['bytes_through_compute'] or 0) / 1e6 for r in rows]
    ax.bar(x, through, color=colors)
    _log_if_wide(ax, through)
    ax.set_ylabel('MB')
    ax.set_title('Bytes that crossed the compute host (nbd: storage-link '
                 'counters; file: the hypervisor\'s own disk I/O)')
    ax.set_xticks(list(x), labels, fontsize=7)

    if sweep:
        _plot_sweep(axes.pop(0), rows, sweep)
    for name, s in series:
        ax = axes.pop(0)
        _plot_series(ax, name, s)
    if series:
        ax.set_xlabel('seconds since the guest started writing')

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
