"""A small result the reporting tests share: one new row, one legacy."""

from volmig_bench import results

G = 1 << 30


def result():
    result = results.new_result({'writer': {'rate': 20000000}})
    summary = {'count': 10, 'p50_ms': 0.4, 'p99_ms': 12.0, 'max_ms': 20.0}
    result['rows'].append(results.new_row(
        'new', 'nbd', 'netns-veth', 'xfs-reflink', G, total_s=2.5,
        cinder_complete_wait_s=0.3,
        write_block_s={'start': 0.012, 'pivots': [0.03]},
        bytes_through_compute=52000000,
        guest_latency={'before': summary, 'during': summary},
        raw_copy_s=0.05, copy_phase_s=0.5, checksum_ok=True))
    result['rows'].append(results.new_row(
        'legacy', 'nbd', 'netns-veth', 'xfs-reflink', G, total_s=300.0,
        legacy_converged=False, bytes_through_compute=7 * 10 ** 9,
        checksum_ok=True))
    result['timeseries'] = {'1gib-nbd-xfs-reflink-new-0': {
        't_s': [0, 1], 'p50_ms': [1, 2], 'p99_ms': [3, 40],
        'max_ms': [4, 50], 'events': [{'t_s': 1, 'name': 'start'}]}}
    return result
