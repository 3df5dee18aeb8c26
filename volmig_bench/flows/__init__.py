"""The flows the bench compares, in one registry.

A flow is one way of moving the attached volume to its other pool while
the guest writes. Each flow is a :class:`Flow` entry in :data:`FLOWS`:
plain data that the plan (``--flows``), the row builder
(:mod:`volmig_bench.measure`), the result schema
(:mod:`volmig_bench.results`), the checks, the table and the plot all
read. What *drives* a flow is its family's class, one module per family:

* :mod:`volmig_bench.flows.new` - Cinder's migrate without
  ``force_host_copy``: Nova's start, the array's copy, Nova's complete
  (whose mechanism is ``[libvirt] volume_migration_complete_mode``), then
  Nova's asynchronous finish;
* :mod:`volmig_bench.flows.legacy` - ``force_host_copy``: Cinder asks Nova
  to swap the volume (the baseline every new flow is compared with).

Adding a flow
-------------
A new flow that is the new family with another complete mode is one
entry below, as ``new-rebase`` (``volume_migration_complete_mode =
rebase``) is::

    Flow('new-rebase', NEW, color='tab:purple',
         legend='purple: new, rebase complete', complete_mode='rebase'),

The schema's ``flow`` enum, ``--flows``, the table, the plot colours and
title, the "Cinder waits in complete" check and the summary's ratios to
legacy follow from it; ``tests/unit/bench/test_flows.py`` checks that the
mode is one of Nova's choices. A flow that talks to the services
differently is a new family: a :class:`volmig_bench.flows.base.FlowRun`
subclass in its own module, named in :data:`volmig_bench.case.FAMILIES`.
"""

from __future__ import annotations

import dataclasses

#: Families (what drives the flow): see the module docstring.
NEW = 'new'
LEGACY = 'legacy'
#: The flow every new flow is compared with.
BASELINE = 'legacy'
#: The flow the issue's "several times below legacy" bars apply to.
HEADLINE = 'new'


@dataclasses.dataclass(frozen=True)
class Flow:
    """One flow: its name in results and on the command line."""

    name: str
    family: str
    #: matplotlib colour of its bars, lines and shaded migrations
    color: str
    #: its words in the time plot's title
    legend: str
    #: Nova's ``[libvirt] volume_migration_complete_mode``, set before
    #: each migration of a new-family flow
    complete_mode: str | None = None
    #: why Cinder may wait longer in complete, said with that check
    complete_wait_note: str = ''
    #: the "Cinder waits under N s in complete" check's N
    complete_wait_limit_s: float = 1.0
    #: links whose rows that check reads (None: all), and why
    wait_checked_links: tuple[str, ...] | None = None
    wait_checked_why: str = ''
    #: what the bytes check divides by: the guest's writes in the 64 KiB
    #: chunks a block job copies by default (``guest_chunk_bytes_during``)
    #: or, for a flow whose copy moves the writer's 4 KiB blocks, the
    #: bytes it wrote (``guest_bytes_during``)
    bytes_per: str = 'guest_chunk_bytes_during'
    #: the flow this one must be no slower than, row by row on the links
    #: its wait check reads: in total time and in Nova's part (Cinder's
    #: wait in complete plus the asynchronous finish)
    no_slower_than: str | None = None

    @property
    def baseline(self) -> bool:
        return self.family == LEGACY


#: Registration order is the schema's enum order and ``--flows``' list.
FLOWS: dict[str, Flow] = {flow.name: flow for flow in (
    Flow('new', NEW, color='tab:blue', legend='blue: new flow',
         complete_mode='two_step'),
    Flow('new-write_blocking', NEW, color='tab:cyan',
         legend='cyan: new, write-blocking complete',
         complete_mode='write_blocking',
         complete_wait_note='by design it waits for the guest\'s new data '
                            'to cross the link'),
    Flow('new-rebase', NEW, color='tab:purple',
         legend='purple: new, rebase complete', complete_mode='rebase',
         complete_wait_note='the switch copies nothing, so the wait is '
                            'flat in size',
         complete_wait_limit_s=0.2, wait_checked_links=('nbd',),
         wait_checked_why='file volumes complete two_step: Nova '
                          'switches network volumes only',
         bytes_per='guest_bytes_during', no_slower_than='new'),
    Flow('legacy', LEGACY, color='tab:gray', legend='grey: legacy swap'),
)}


def get(name: str) -> Flow:
    """The registered flow ``name`` (KeyError when there is none)."""
    return FLOWS[name]


def names() -> tuple[str, ...]:
    return tuple(FLOWS)


def complete_modes() -> dict[str, str]:
    """Flow name -> Nova's complete mode, for the new-family flows."""
    return {f.name: f.complete_mode for f in FLOWS.values()
            if f.complete_mode}


def is_baseline(name: str) -> bool:
    """Whether ``name`` is the baseline (an unknown name is not)."""
    flow = FLOWS.get(name)
    return flow is not None and flow.baseline


def new_flows() -> list[Flow]:
    """Every flow compared with the baseline, in registration order."""
    return [f for f in FLOWS.values() if not f.baseline]
