# The two README commands: `make demo` (main job on the bundled sample photos) and `make test` (all tests).
PYTHON ?= python3
SAMPLES := samples/kodim03.png samples/kodim05.png samples/kodim23.png

.PHONY: setup test lint demo bench lrplugin

setup:
	bash scripts/setup.sh

lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

test: lint
	$(PYTHON) -m pytest

demo: setup
	autoretouch render $(SAMPLES) --recipe samples/recipes/warm_punchy.json --out-dir out/demo
	@echo "demo: retouched samples written to out/demo/"

bench: setup
	$(PYTHON) bench/bench_render.py

lrplugin: setup
	bash scripts/build_lrplugin.sh
