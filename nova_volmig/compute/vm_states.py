"""Stable instance states (Nova's ``vm_state``)."""

ACTIVE = 'active'
BUILDING = 'building'
STOPPED = 'stopped'
ERROR = 'error'
DELETED = 'deleted'

# What the REST API shows as "status" for each vm_state.
API_STATUS = {
    ACTIVE: 'ACTIVE',
    BUILDING: 'BUILD',
    STOPPED: 'SHUTOFF',
    ERROR: 'ERROR',
    DELETED: 'DELETED',
}
