"""Transitional instance states (Nova's ``task_state``)."""

SPAWNING = 'spawning'
POWERING_ON = 'powering-on'
POWERING_OFF = 'powering-off'
DELETING = 'deleting'
ATTACHING_VOLUME = 'attaching_volume'
DETACHING_VOLUME = 'detaching_volume'
SWAPPING_VOLUME = 'swapping_volume'

# The volume-migration states of DESIGN 4.
VOLUME_MIGRATING = 'volume_migrating'
VOLUME_MIGRATION_COMPLETING = 'volume_migration_completing'
VOLUME_MIGRATION_CANCELLING = 'volume_migration_cancelling'

VOLUME_MIGRATION_STATES = (VOLUME_MIGRATING, VOLUME_MIGRATION_COMPLETING,
                           VOLUME_MIGRATION_CANCELLING)
