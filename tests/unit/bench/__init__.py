"""Unit tests of volmig_bench."""
