"""View builders: database rows to API bodies, per microversion."""
