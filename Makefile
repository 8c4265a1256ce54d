# The two README commands: `make demo` (main job: the default style on the bundled sample photos) and `make test`.
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
	mkdir -p out/demo/photos
	cp $(SAMPLES) out/demo/photos/
	autoretouch suggest out/demo/photos/*.png
	autoretouch render out/demo/photos/*.png --style default --out-dir out/demo/retouched --overwrite
	autoretouch catalog out/demo/photos --host both
	@echo "demo: suggestions above; retouched renders in out/demo/retouched/; XMP sidecars next to out/demo/photos/*"

bench: setup
	$(PYTHON) bench/bench_render.py

lrplugin: setup
	bash scripts/build_lrplugin.sh
