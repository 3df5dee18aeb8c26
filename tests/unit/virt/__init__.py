"""Unit tests of the virt drivers."""
