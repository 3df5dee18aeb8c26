"""The distributed nova-volmig deployment: RabbitMQ, PostgreSQL, services.

* :mod:`.services` - the host's RabbitMQ and PostgreSQL: started when
  missing, shared through leases, stopped (by PID) only by whoever started
  them, once nobody holds them any more; roles, databases and vhosts.
* :mod:`.deployment` - ``nova-volmig-api``, two ``nova-volmig-compute``
  hosts and ``cinder-volmig`` as separate processes, their configuration
  files (rendered from ``etc/distributed/*.conf.in``), PIDs and endpoints.

``tools/distributed.py`` is the command line on top of both; the
functional tests use them directly.
"""
