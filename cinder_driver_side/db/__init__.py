"""Database of the Cinder side (its own, separate from Nova's)."""
