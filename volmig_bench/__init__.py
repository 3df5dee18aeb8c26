"""volmig-bench: the new volume-migration flow against legacy swap-volume.

The real parts the benchmark runs on, one module per concern:

* :mod:`volmig_bench.guest` - the tiny guest (kernel, busybox initramfs and a
  static C writer) that makes the guest write load, and the host side that
  recomputes what it wrote.
* :mod:`volmig_bench.link` - the array's network namespace and the shaped
  veth link to the compute host, with the link's own byte counters.
* :mod:`volmig_bench.xfs_pool` - an XFS ``reflink=1`` pool on a loop device.
* :mod:`volmig_bench.fill` - deterministic volume contents with holes.
* :mod:`volmig_bench.nbd` - NBD exports with ``TCP_NODELAY`` on accepted
  connections.
* :mod:`volmig_bench.runner` - one run, in layers: set-up
  (:mod:`~volmig_bench.environment`), case execution
  (:mod:`~volmig_bench.case`, the flows in :mod:`volmig_bench.flows`),
  measurement (:mod:`~volmig_bench.probes`, :mod:`~volmig_bench.measure`,
  :mod:`~volmig_bench.stats`), checks (:mod:`~volmig_bench.checks`),
  results (:mod:`~volmig_bench.results`), reporting and display
  (:mod:`~volmig_bench.report`, :mod:`~volmig_bench.plot`,
  :mod:`~volmig_bench.display`) and :mod:`~volmig_bench.teardown`.
"""
