"""Functional tests of volmig_bench on real namespaces, loop devices, QEMU."""
