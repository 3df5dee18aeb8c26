# nova-volmig: everything a fresh Debian 12 machine needs, then the job.
#
#   make test    set up the host and the venv, then run the whole suite
#   make bench   set up the host and the venv, then run volmig-bench
#
# Both do all set-up themselves (system packages when missing, libvirtd,
# a venv at .venv with the project installed), and are safe to re-run.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STESTR := $(VPY) -m stestr
BENCH_ARGS ?=

.PHONY: test bench host host-services venv unit functional pep8 genconfig genpolicy genapi clean distributed-start distributed-stop

# libvirt + QEMU and the tools the functional tests and the bench use.
host:
	./tools/setup-host.sh

# ... plus RabbitMQ and PostgreSQL for the distributed deployment's tests.
host-services:
	VOLMIG_WITH_SERVICES=1 ./tools/setup-host.sh

$(STAMP): requirements.txt test-requirements.txt setup.cfg setup.py
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q -U pip setuptools wheel
	$(VPY) -m pip install -q -r requirements.txt -r test-requirements.txt
	$(VPY) -m pip install -q -e .
	touch $@

venv: host $(STAMP)

# Unit and functional tests in parallel (spread over the workers by the
# durations in tests/test-times.json); the tests that restart libvirtd or
# kill services run afterwards, alone.
test: host-services venv
	$(VPY) tools/test_times.py load
	$(STESTR) run --exclude-regex '^tests\.functional\.disruptive\.' $(TESTS)
	$(STESTR) run --serial '^tests\.functional\.disruptive\.'

unit: venv
	$(STESTR) run '^tests\.unit\.'

functional: venv
	$(STESTR) run '^tests\.functional\.'

bench: venv
	$(VENV)/bin/volmig-bench $(BENCH_ARGS)

pep8: venv
	$(VENV)/bin/flake8 nova_volmig cinder_driver_side volmig_bench volmig_common volmig_osc volmig_distributed tests tools

genconfig: venv
	for f in etc/oslo-config-generator/*.conf; do $(VENV)/bin/oslo-config-generator --config-file $$f || exit 1; done

# The distributed deployment: RabbitMQ, PostgreSQL and every service as its
# own process (doc/source/admin/distributed.rst).
DIST_STATE ?= /var/tmp/nova-volmig-distributed

distributed-start: host-services venv
	$(VPY) tools/distributed.py start --state-path $(DIST_STATE)

distributed-stop:
	$(VPY) tools/distributed.py stop --state-path $(DIST_STATE)

genpolicy: venv
	for f in etc/oslo-policy-generator/*.conf; do $(VENV)/bin/oslopolicy-sample-generator --config-file $$f || exit 1; done

# The OpenAPI documents of both APIs, from their routes and JSON schemas.
genapi: venv
	$(VPY) tools/genapi.py

clean:
	rm -rf $(VENV) .stestr bench-results
