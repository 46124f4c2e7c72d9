# The two commands a new user needs: `make demo` and `make test`. Everything else is optional.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
KUBECONFIG_DEV := .dev/kubeconfig

.PHONY: install docs test unit fuzz lint demo demo-down bench controlplane promtool flux gitops-tools browser helm scanners node e2e-gitops e2e-node e2e-outage cluster-up cluster-down gitops-up gitops-down e2e-kind image image-docker clean

install: $(STAMP)
$(STAMP): pyproject.toml
	@command -v python3 >/dev/null || { echo "error: python3 (>= 3.11.5) is required" >&2; exit 1; }
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11, 5))' || { echo "error: python3 is \
	$$(python3 -V 2>&1 | cut -d' ' -f2); make needs >= 3.11.5 (the docs' pymdown-extensions does): put a newer python3 first on PATH" >&2; exit 1; }
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

controlplane:
	@hack/controlplane/build.sh >/dev/null

promtool:  # checks and unit-tests the alert rules in manifests/monitoring (tests/integration)
	@hack/tools/promtool.sh >/dev/null

flux:  # Flux's source-controller and kustomize-controller, and Argo CD's Lua runtime (tests/gitops)
	@hack/flux/build.sh >/dev/null
	@hack/argocd/build.sh >/dev/null

gitops-tools: flux  # kubeconform and the GitOps tools' CRDs (tests/gitops: the PR validation recipe); an OCI registry and oras (tests/node: Flux installs the operator from an OCI artifact)
	@hack/tools/kubeconform.sh >/dev/null
	@hack/gitops/crds.sh >/dev/null
	@hack/tools/registry.sh >/dev/null
	@hack/tools/oras.sh >/dev/null

browser:  # Debian's chromium + chromium-driver: tests/report checks the HTML review in it
	@hack/tools/browser.sh >/dev/null

helm:  # helm and actionlint: tests/chart lints, renders and compares the chart, checks the release workflow
	@hack/tools/helm.sh >/dev/null
	@hack/tools/actionlint.sh >/dev/null

scanners:  # checkov and zizmor (their own venv in the cache) and kube-score: tests/scan runs them
	@hack/tools/scanners.sh >/dev/null
	@hack/tools/kube-score.sh >/dev/null

node: controlplane  # a real node (containerd, runc, kubelet, ...) and the operator image, for tests/node
	@hack/node/packages.sh
	@hack/controlplane/build.sh node >/dev/null
	@hack/image/build.sh >/dev/null

test: lint docs controlplane promtool flux gitops-tools browser helm scanners node  # lint first: CI enforces the style the README claims
	$(VENV)/bin/pytest -q tests

e2e-node: install node helm gitops-tools  # only the tests on a real node: the image, kubectl apply -k, helm install
	$(VENV)/bin/pytest -q tests/node tests/image

e2e-outage: install controlplane  # the Atlassian outage test at the issue's full 10 minutes (make test runs 2)
	ATLASSIAN_OUTAGE_SECONDS=600 $(VENV)/bin/pytest -q -s tests/e2e/test_reliability_outage.py

e2e-gitops: install controlplane flux gitops-tools helm  # only the GitOps tests: Flux applies commits, Argo CD's health script
	$(VENV)/bin/pytest -q tests/gitops

docs: install  # the docs site, strictly: generated pages fresh, every link, anchor and code block
	$(PY) hack/docs/reference.py --check
	$(PY) hack/docs/blocks.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

unit: install
	$(VENV)/bin/pytest -q tests/unit

FUZZ_MINUTES ?= 30
fuzz: install  # the owner's model-based test with random seeds; prints a minimal failing history
	ATLASSIAN_FUZZ_SECONDS=$$(( $(FUZZ_MINUTES) * 60 )) $(VENV)/bin/pytest -q -s --timeout=0 \
		tests/unit/test_owner_model.py

lint: install
	$(VENV)/bin/ruff check operator tests hack
	$(VENV)/bin/ruff format --check operator tests hack
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

demo: install controlplane browser
	$(PY) hack/demo.py $(DEMO_ARGS)

demo-down:  # after `make demo DEMO_ARGS=--keep`
	-kill $$(cat .dev/demo/pids 2>/dev/null) 2>/dev/null; rm -f .dev/demo/pids
	$(PY) hack/controlplane/controlplane.py down --dir .dev/demo/controlplane
	rm -rf .dev/demo/logs

bench: install controlplane
	$(PY) hack/bench.py

e2e-kind: install  # needs Docker and kind; not run in CI here
	hack/e2e-kind.sh $(E2E_ARGS)

image:  # localhost/atlassian-operator:dev from Debian packages with podman (no Docker, no registry)
	@hack/node/packages.sh
	hack/image/build.sh

IMAGE ?= ghcr.io/atlassian-operator/atlassian-operator:0.1.0
image-docker:  # the same Dockerfile, for people with Docker and a registry
	@command -v docker >/dev/null || { echo "error: docker is required for 'make image-docker'" >&2; exit 1; }
	docker build -t $(IMAGE) .

# NODE=1: also a real node (root only), so that `kubectl apply -k manifests` runs the operator as
# a Pod; the image is imported as localhost/atlassian-operator:dev (see the README).
cluster-up: install controlplane $(if $(NODE),node)
	$(PY) hack/controlplane/controlplane.py up --dir .dev/controlplane --kubeconfig $(KUBECONFIG_DEV) $(if $(NODE),--node)
	@echo "export KUBECONFIG=$(KUBECONFIG_DEV)"

cluster-down:
	$(PY) hack/controlplane/controlplane.py down --dir .dev/controlplane

# After `make cluster-up NODE=1`: Flux (source-controller, kustomize-controller) as host processes
# and an OCI registry on 127.0.0.1:5050 holding crds/ and manifests/ at HEAD, for
# examples/gitops/clusters/local (docs/tasks/install-gitops.md). Logs and pids in .dev/gitops/.
gitops-up: install flux gitops-tools
	$(PY) hack/gitops/localflux.py up --kubeconfig $(KUBECONFIG_DEV) --dir .dev/gitops

gitops-down:
	$(PY) hack/gitops/localflux.py down --dir .dev/gitops

clean:
	rm -rf $(VENV) .dev .pytest_cache .mypy_cache .ruff_cache
