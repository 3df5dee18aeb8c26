"""Remove libvirt domains whatever state they are in: one teardown.

The bench's clean-up of killed runs and the functional tests' domain
clean-up both destroy (``virDomainDestroy``) a running domain and then
undefine it with its snapshot metadata (``virDomainUndefineFlags`` with
``VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA``), a transient domain being
gone after the destroy. ``libvirt`` is imported on use: the bench and the
tools load this module on hosts where only some commands need libvirt.
"""

from __future__ import annotations

import time
from typing import Iterable

URI = 'qemu:///system'


def remove_domain(conn, uuid: str) -> bool:
    """Destroy and undefine the domain ``uuid`` on ``conn``.

    :returns: False when there is no such domain (already removed).
    :raises libvirt.libvirtError: any other failure.
    """
    import libvirt

    try:
        dom = conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return False
        raise
    if dom.isActive():
        dom.destroy()
    try:
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    except libvirt.libvirtError as e:
        # A transient domain is gone once destroyed.
        if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise
    return True


def remove_domains(uuids: Iterable[str], uri: str = URI,
                   attempts: int = 1, delay: float = 1.0
                   ) -> dict[str, Exception]:
    """Remove each domain of ``uuids``; one that fails does not stop others.

    :param attempts: tries per domain (``libvirtd`` may be restarting:
        a new connection is opened for each try).
    :returns: the last error of each domain that could not be removed.
    """
    import libvirt

    failed: dict[str, Exception] = {}
    pending = list(uuids)
    for attempt in range(attempts):
        if attempt:
            time.sleep(delay)
        failed = {}
        try:
            conn = libvirt.open(uri)
        except libvirt.libvirtError as e:
            failed = dict.fromkeys(pending, e)
            continue
        try:
            for uuid in pending:
                try:
                    remove_domain(conn, uuid)
                except libvirt.libvirtError as e:
                    failed[uuid] = e
        finally:
            conn.close()
        pending = list(failed)
        if not pending:
            break
    return failed
