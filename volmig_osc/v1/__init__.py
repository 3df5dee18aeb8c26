"""Commands of the volume_migration plugin, version 1."""
