# csops — the two set-up commands of the README, and the pieces they are made of.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration control-plane capi git-servers images flux bench clean

## demo: create .venv, then the whole product on the example stacks: render from scratch,
## a local control plane, sync, what a user looks at, a no-op pass with zero writes, stop
demo: $(STAMP) control-plane capi
	$(BIN)/python hack/demo.py

## test: create .venv, build (or reuse) the test control plane, Cluster API and the container
## images, lint, type-check, run every test
test: $(STAMP) control-plane capi git-servers images lint typecheck
	$(BIN)/python -m pytest

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## unit: the unit tests only (no servers, processes or network; seconds)
unit: $(STAMP)
	$(BIN)/python -m pytest -m unit

## integration: the tests on real API servers, git, Helm and processes
integration: $(STAMP) control-plane capi git-servers images
	$(BIN)/python -m pytest -m integration

control-plane: $(STAMP)
	$(BIN)/python hack/controlplane/build.py

## git-servers: Debian's sshd for the git-over-SSH tests (unpacked into ~/.cache/csops/sshd)
git-servers: $(STAMP)
	$(BIN)/python hack/sshd.py

## capi: build (or reuse) Cluster API's managers and collect its real CRDs (hack/capi/build.py)
capi: $(STAMP)
	$(BIN)/python hack/capi/build.py

## images: every container image the project uses, built locally with podman (no registry)
images: $(STAMP) control-plane
	$(BIN)/python hack/images/build.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

## flux: build (or reuse) Flux's source- and kustomize-controller for the side-by-side bench
flux:
	$(BIN)/python hack/flux/build.py

bench: $(STAMP) control-plane capi flux
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
