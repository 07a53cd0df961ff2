# Everyday commands. `make repro` and `make test` bootstrap .venv themselves; `make repro`
# also installs bubblewrap where it can (the sandbox for agent-written tests).
PY := .venv/bin/python
VENV_STAMP := .venv/.installed

.PHONY: setup system-deps test-deps repro test test-fast lint fix demo results check-results dvc-yaml

$(VENV_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: pip takes the CPU wheel from this machine's pip configuration.
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(VENV_STAMP)

setup: system-deps test-deps $(VENV_STAMP)

# bubblewrap sandboxes agent-written tests (read-only system, no network): `make repro` installs
# it where it can (as root or with sudo, through apt-get or dnf); a failed install warns once and
# goes on, and then only the offline oracle may run tests unsandboxed (docs/security.md).
system-deps:
	@scripts/system-package bwrap bubblewrap "the sandbox for agent-written tests"

# Headless chromium for the trajectory viewer's browser test (skipped without it; CI runs it).
test-deps:
	@scripts/system-package chromium chromium "the viewer's browser test"

repro: system-deps $(VENV_STAMP)
	test -d .dvc || .venv/bin/dvc init -q
	PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/dvc repro

test: $(VENV_STAMP)
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15

test-fast: $(VENV_STAMP)
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not slow"

lint: $(VENV_STAMP)
	.venv/bin/ruff check src tests benchmarks scripts
	.venv/bin/ruff format --check src tests benchmarks scripts

fix: $(VENV_STAMP)
	.venv/bin/ruff check --fix src tests benchmarks scripts
	.venv/bin/ruff format src tests benchmarks scripts

demo: $(VENV_STAMP)
	.venv/bin/repo-agent run --suite builtin --all --policy oracle --tool-protocol json --test-policy on_final

# The stages' code deps in dvc.yaml, from the import graph (a test checks they are current).
dvc-yaml: $(VENV_STAMP)
	$(PY) scripts/dvc_yaml.py

# README's results block, from metrics/eval.json (and benchmarks/results/seeds.json).
results: $(VENV_STAMP)
	$(PY) scripts/results.py

# The results gate (CI runs it after the tests): dvc.lock, metrics/ and the README's results
# come from the committed code; else it names the stale stages and the command to refresh.
check-results: $(VENV_STAMP)
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) scripts/check_results.py
