"""Teardown that also runs on SIGTERM / SIGHUP, not only on Ctrl-C.

Also whether a PID still runs (shared with ``tools/``), which the
cleanup of killed runs asks of their owners, and the removal of the
domains such a run left (:mod:`volmig_common.libvirt_teardown`, which the
functional tests use too).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterable, Iterator

import psutil

from volmig_common import libvirt_teardown


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM or SIGHUP arrives."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


def _raise(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def signals_raise(signals=(signal.SIGTERM, signal.SIGHUP)) -> Iterator[None]:
    """Turn ``signals`` into :class:`Terminated` inside the block.

    SIGINT already raises KeyboardInterrupt; with this, every ``finally``
    and ``__exit__`` inside the block runs on a polite kill too. Outside
    the main thread (where handlers cannot be set) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred_signals(signals=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
                     ) -> Iterator[None]:
    """Hold ``signals`` back while a set-up or teardown step must finish.

    A signal that arrives inside the block is re-delivered when it ends,
    so a half-made namespace is never left behind by an untimely Ctrl-C.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` runs and is not a zombie (psutil's status)."""
    if not pid:
        return False
    try:
        status = psutil.Process(pid).status()
    except psutil.Error:
        return False
    return status not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


def destroy_leftover_domains(uuids: Iterable[str]) -> None:
    """Destroy and undefine the domains a run left, whatever their state.

    Best effort: a domain libvirt refuses to remove is left for the next
    clean-up; the others are removed all the same.
    """
    uuids = list(uuids)
    if uuids:
        libvirt_teardown.remove_domains(uuids)
