"""The benchmark's tiny guest and the host side of its write load.

* :mod:`.builder` - ``build(dest, params)``: kernel, initramfs, cmdline.
* :mod:`.protocol` - :class:`WriterParams` and the writer's report lines.
* :mod:`.expected` - the writer's writes recomputed on the host.
* :mod:`.verify` - a volume checked block by block against the writes
  the guest acknowledged (ok, newer, stale, missing, corrupt).
* ``writer.c`` - the static C writer that runs as the guest's load.
"""
