"""``volmig-bench --scenario faults``: no acknowledged write is ever lost.

Every case migrates a fresh volume attached to a real guest whose writer
acknowledges each write once it is durable (``writer.c``), in a
distributed deployment (:mod:`volmig_distributed`: nova-volmig-api,
nova-volmig-compute and cinder-volmig as separate processes), so that a
fault hits one real service and not the others:

* :mod:`volmig_bench.faults.cases` - the cases, in priority order (no
  fault in each flow, then SIGKILL of nova-volmig-compute at each step
  boundary it records, ...);
* :mod:`volmig_bench.faults.injector` - the deployment and the faults
  (kill at a recorded step, restart);
* :mod:`volmig_bench.faults.scenario` - one case end to end (volume,
  guest, migration, fault, verification) and the run's table.

Each migration is checked twice: src is frozen from start on (its sha256
and :func:`volmig_bench.guest.verify.verify_log` against the log read at
start), and the volume the guest ends on holds every acknowledged write
(``verify_log`` right after the migration settled, and again once the
writer stopped).
"""
