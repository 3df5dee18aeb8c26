"""openstack CLI plugin (osc-lib) for the volume-migration APIs."""
