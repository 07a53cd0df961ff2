# Everyday commands. `make repro` and `make test` bootstrap .venv themselves.
PY := .venv/bin/python
VENV_STAMP := .venv/.installed

.PHONY: setup system-deps repro test test-fast lint fix demo results

$(VENV_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: pip takes the CPU wheel from this machine's pip configuration.
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(VENV_STAMP)

setup: system-deps $(VENV_STAMP)

# bubblewrap sandboxes agent-written tests (read-only system, no network); without it they run
# unisolated, with a warning. Optional: a failed install only warns.
system-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  command -v apt-get >/dev/null 2>&1 && \
	  $$sudo apt-get update -q && $$sudo apt-get install -y -q --no-install-recommends bubblewrap; \
	} || echo "warning: could not install bubblewrap; agent-written tests will run without file and network isolation" >&2

repro: $(VENV_STAMP)
	test -d .dvc || .venv/bin/dvc init -q
	PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/dvc repro

test: $(VENV_STAMP)
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15

test-fast: $(VENV_STAMP)
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not slow"

lint: $(VENV_STAMP)
	.venv/bin/ruff check src tests stages benchmarks
	.venv/bin/ruff format --check src tests stages benchmarks

fix: $(VENV_STAMP)
	.venv/bin/ruff check --fix src tests stages benchmarks
	.venv/bin/ruff format src tests stages benchmarks

demo: $(VENV_STAMP)
	.venv/bin/repo-agent run --suite builtin --all --policy oracle --tool-protocol json --test-policy on_final

# README's results block, from metrics/eval.json (and benchmarks/results/seeds.json).
results: $(VENV_STAMP)
	$(PY) scripts/results.py
