"""What the bench reads on the host while a case runs.

The instruments, apart from the arithmetic on what they read
(:mod:`volmig_bench.measure`): byte counters sampled in a thread (the
storage link's host end for nbd, the QEMU process's I/O for file), the
array's raw copy of the volume, TCP_NODELAY of the array's accepted NBD
connections, and what the domain really runs on.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import time

from cinder_driver_side.volume import copy_engines
from volmig_bench import counters
from volmig_bench import link as link_mod
from volmig_bench import nbd
from volmig_bench import plan as plan_mod


def byte_sampler(backend: plan_mod.Backend,
                 link: link_mod.ShapedLink | None, domain_name: str
                 ) -> counters.CounterSampler | None:
    """A started sampler of the bytes a migration on ``backend`` moves.

    nbd: (to the array, from the array) at the link's host end, when the
    link is a veth (the throttle-group fallback has no counters); file:
    the QEMU process's ``read_bytes + write_bytes``.
    """
    if backend.link == 'nbd' and link is not None:
        def read():
            counted = link.counters()
            return (counted.to_array, counted.from_array)
    elif backend.link == 'file':
        pid = counters.qemu_pid(domain_name)
        read = lambda: counters.process_io_bytes(pid)  # noqa: E731
    else:
        return None
    return counters.CounterSampler(read).start()


def bytes_moved(sampler: counters.CounterSampler | None,
                backend: plan_mod.Backend, start: float, end: float):
    """(link bytes, QEMU I/O bytes) between two monotonic times.

    Waits two sampling intervals first, so that ``end`` is inside the
    samples; the one that does not apply to ``backend`` is None.
    """
    time.sleep(2 * (sampler.interval if sampler else 0))
    if sampler is None:
        return None, None
    delta = sampler.delta(start, end)
    if backend.link == 'nbd':
        return delta, None
    return None, delta


def raw_copy(path: str, size: int, array_throughput: int = 0) -> dict:
    """The array's own copy of the volume file: the physical limit.

    Copied by Cinder's native engine (reflink or copy_file_range, fsync
    included) into the same pool, then deleted; paced to
    ``array_throughput`` (an emulated array's copy engine) when set.
    """
    probe = os.path.join(os.path.dirname(path), '.raw-copy-probe')
    shared = (copy_engines.SharedRate(array_throughput)
              if array_throughput else None)
    try:
        result = copy_engines.NativeCopy().copy(path, probe, size,
                                                shared=shared)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(probe)
    return {'seconds': round(result.seconds, 4), 'method': result.method,
            'bytes': result.bytes_transferred}


def raw_limit(paths: list[str], size: int,
              array_throughput: int = 0) -> dict:
    """:func:`raw_copy` of each file, one at a time: the array's limit.

    At the array's copy throughput when it has one: what one copy alone
    gets of it.
    """
    copies = [raw_copy(path, size, array_throughput) for path in paths]
    seconds = sum(c['seconds'] for c in copies)
    return {'volumes': len(copies), 'seconds': round(seconds, 3),
            'bytes': size * len(copies),
            'bytes_per_s': round(size * len(copies) / seconds),
            'method': copies[0]['method']}


def accepted_nodelay(aio_state: str, backend_name: str) -> list[bool]:
    """TCP_NODELAY of every connection the backend's NBD daemons accepted.

    The daemons are found by the pids Cinder recorded under
    ``<aio state>/cinder/nbd/<backend>/``.
    """
    state = os.path.join(aio_state, 'cinder', 'nbd', backend_name)
    seen = []
    for path in glob.glob(os.path.join(state, '*.json')):
        with contextlib.suppress(OSError, ValueError, KeyError):
            with open(path) as f:
                pid = json.load(f)['pid']
            seen.extend(nbd.accepted_nodelay(pid).values())
    return seen


def domain_type(uuid: str) -> str:
    """``kvm`` or ``qemu`` (TCG): what the instance really runs on."""
    import xml.etree.ElementTree as ET

    import libvirt

    conn = libvirt.open('qemu:///system')
    try:
        return ET.fromstring(conn.lookupByUUIDString(uuid).XMLDesc(0)
                             ).get('type')
    finally:
        conn.close()
