# The kit's commands. A newcomer needs two: `make lab` and `make test`. `make help` lists all.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
INSTRUCTOR := $(VENV)/.instructor
PORT   ?= 8888
STUDENT_FOLDER ?= my-lessons
LESSON ?= 01
SUBMISSIONS ?= submissions
GRADING_MEMORY ?= 4000000000
GRADING_NOTEBOOK_TIME ?= 900

.DEFAULT_GOAL := help
.PHONY: help lab instructor-lab test test-fast test-jax test-gpu wheel site lint prepare benchmark lock clean release autograde present merge-grades hub-tools

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "Python 3.10-3.12 is needed (TensorFlow 2.21), but $(PYTHON) is %d.%d. Run: make PYTHON=python3.11 ..." % v)'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Instructor tools and the tests' extras (nbgrader, Voila, Playwright): not needed by `make lab`.
# nbgrader's panels are switched off in .venv so students see a plain JupyterLab.
$(INSTRUCTOR): $(STAMP) requirements-instructor.txt
	$(BIN)/python -m pip install --quiet -r requirements-instructor.txt -c constraints.txt
	$(BIN)/python -m lab_utils.grading hide-nbgrader
	touch $(INSTRUCTOR)

# JupyterLab refuses to start as root ("Running as root is not recommended"), which is the
# default user in many containers and Binder-like setups: there `make lab` adds --allow-root.
AS_ROOT := $(filter 0,$(shell id -u 2>/dev/null))

# No news pop-up in class (it covered lesson text) and no update check: JupyterLab's
# announcements plugin is switched off in .venv (`jupyter labextension enable` undoes it).
NO_NEWS := $(BIN)/jupyter labextension disable --level=sys_prefix \
	@jupyterlab/apputils-extension:announcements >/dev/null 2>&1 || true

lab: $(STAMP) ## Students: open your copies of the lessons (my-lessons/, no solutions)
	@$(if $(AS_ROOT),echo "make lab: running as root (as in many containers) so JupyterLab gets --allow-root.")
	$(BIN)/python -m lab_utils.students $(STUDENT_FOLDER)
	@$(NO_NEWS)
	exec $(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		--ServerApp.root_dir=$(STUDENT_FOLDER) $(if $(AS_ROOT),--allow-root)

instructor-lab: $(STAMP) ## Instructors: open notebooks/ (the versions with solutions)
	@$(NO_NEWS)
	exec $(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		--ServerApp.root_dir=notebooks $(if $(AS_ROOT),--allow-root)

# Two workers by default (the 2-core laptop the kit is sized for): `make test TEST_WORKERS=4`.
TEST_WORKERS ?= 2

# JupyterHub's proxy (configurable-http-proxy, pinned in package.json/package-lock.json) for
# tests/test_hub.py and deploy/: installed into node_modules/ when npm is there (else that test skips).
HUB_TOOLS := node_modules/.installed
$(HUB_TOOLS): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: tests/test_hub.py (a local JupyterHub) will be skipped"; fi

hub-tools: $(HUB_TOOLS) ## Install JupyterHub's proxy from npm (node_modules/) for the hub test

test: $(INSTRUCTOR) $(HUB_TOOLS) ## Run every test: unit, notebooks end to end, grading, real browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

test-fast: $(STAMP) ## Unit tests only (skips the notebooks and slow tests)
	$(BIN)/python -m pytest tests -m "not slow" -n $(TEST_WORKERS) --dist loadscope

# Keras on JAX instead of TensorFlow (issue 23): every lesson under nbval on CPU, so a machine
# with JAX and no TensorFlow can run the kit. JAX comes from requirements-jax.txt (optional).
# Not in CI: the six lessons took 550 s on 2 workers (2026-12-05, empty cache, load 4-6), on
# top of make test's 15-16 minutes. Run it by hand before a release.
JAX := $(VENV)/.jax
$(JAX): $(STAMP) requirements-jax.txt
	$(BIN)/python -m pip install --quiet -r requirements-jax.txt -c constraints.txt
	touch $(JAX)

test-jax: $(JAX) ## Every lesson under nbval with KERAS_BACKEND=jax (CPU)
	@KERAS_BACKEND=jax $(BIN)/python -c 'import keras, sys; sys.exit(None if keras.backend.backend() == "jax" else "KERAS_BACKEND=jax was not honoured")'
	KERAS_BACKEND=jax $(BIN)/python -m pytest notebooks -n $(TEST_WORKERS) --dist loadscope

# Linux + NVIDIA GPU only (the kit's CPU machines cannot run it): TensorFlow's CUDA libraries
# (requirements-gpu.txt, the nvidia-* packages pinned by constraints-gpu.txt), then every lesson
# under nbval. tools/gpu_check.py fails first when TensorFlow sees no GPU, so a CPU fallback can
# never pass as a GPU run. Memory growth: the two workers' kernels share one GPU.
GPU := $(VENV)/.gpu
$(GPU): $(STAMP) requirements-gpu.txt constraints-gpu.txt
	$(BIN)/python -m pip install --quiet -r requirements-gpu.txt -c constraints.txt -c constraints-gpu.txt
	touch $(GPU)

test-gpu: $(GPU) ## GPU machines: every lesson under nbval on the GPU (fails if TensorFlow sees none)
	$(BIN)/python tools/gpu_check.py
	TF_FORCE_GPU_ALLOW_GROWTH=true $(BIN)/python -m pytest notebooks -n $(TEST_WORKERS) --dist loadscope

# The whole kit as one wheel: lab_utils, the lessons and data/ inside (pyproject.toml).
wheel: $(STAMP) ## The kit as one installable wheel (lessons and data inside) -> dist/
	$(BIN)/python -m pip wheel --no-deps --quiet -w dist .
	@ls dist/lab_utils-*.whl

# The released lessons (no solutions), executed, as a website (jupyter-book 1.x, offline).
# SITE_LESSONS="01_pixels 05_detection" builds some lessons only.
site: $(INSTRUCTOR) ## Instructors: the released lessons with their outputs as a website -> build/site/
	$(BIN)/python tools/build_site.py --out build/site $(if $(SITE_LESSONS),--lessons $(SITE_LESSONS))

lint: $(INSTRUCTOR) ## Ruff: lint rules and formatting of lab_utils, tests, benchmarks (pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

prepare: $(STAMP) ## Train every lesson's models once into the cache (SHARED=DIR: a class's shared folder)
	$(BIN)/python -m lab_utils.prepare $(if $(SHARED),--shared $(SHARED)) $(LESSONS)

benchmark: $(STAMP) ## Print the kit's measured figures (import time, lesson run times, ...)
	$(BIN)/python benchmarks/run.py

release: $(INSTRUCTOR) ## Instructors: student versions of every lesson -> build/release/
	$(BIN)/python -m lab_utils.grading release

# Every kernel always runs in lab_utils.sandbox (Linux namespaces: it sees no course files,
# no network; GRADING_MEMORY bytes of memory; GRADING_NOTEBOOK_TIME seconds per notebook, the
# time budget of each submission). Each row is saved as soon as it is decided; running it again
# resumes (REGRADE=1 grades everything again). SANDBOX=1 also puts the whole batch in a
# network-less namespace, at low CPU priority (as root a plain network namespace: a user
# namespace mapping only root would leave the kernels no unprivileged id to run as). See README.
GRADE := $(BIN)/python -m lab_utils.grading autograde $(SUBMISSIONS) \
	--memory $(GRADING_MEMORY) --notebook-timeout $(GRADING_NOTEBOOK_TIME) \
	$(if $(SHARD),--shard $(SHARD)) $(if $(filter 1,$(REGRADE)),--regrade)
ifeq ($(SANDBOX),1)
GRADE := unshare $(if $(AS_ROOT),,--map-root-user) --net sh -c 'ip link set lo up && exec nice -n 10 $(GRADE)'
endif

autograde: $(INSTRUCTOR) ## Instructors: grade SUBMISSIONS=<folder>/<student>/<lesson>.ipynb -> build/grades/ (SHARD=i/N or auto)
	$(GRADE)

# One class graded by N machines (SHARD=i/N, or SHARD=auto in a Kubernetes Indexed Job or a
# Slurm job array): each writes build/grades/shards/<i>-of-<N>/; this joins them (see deploy/).
merge-grades: $(STAMP) ## Instructors: join the shards' grades and feedback into build/grades/
	$(BIN)/python -m lab_utils.grading merge build/grades/shards/*-of-* --out build/grades \
		$(if $(wildcard $(SUBMISSIONS)),--submissions $(SUBMISSIONS))

# `exec`: Voila replaces the shell, so stopping make stops Voila and its kernel (the port is
# freed). Voila reads voila.json from this folder: JupyterLab extensions it must not load, and
# progressive rendering (each cell's output appears as soon as it has run; without it the page
# waits for the whole lesson, trainings included). Trainings load from the cache that
# `make prepare` fills: the line printed first says whether this lesson was prepared.
present: $(INSTRUCTOR) ## Instructors: show LESSON=01 without code for a live demo (Voila, localhost)
	@notebook=$$(ls notebooks/$(LESSON)_*.ipynb 2>/dev/null | head -n 1); \
	test -n "$$notebook" || { echo "No lesson $(LESSON)_*.ipynb in notebooks/"; exit 1; }; \
	$(BIN)/python -m lab_utils.prepare --check $(LESSON); \
	exec $(BIN)/voila "$$notebook" --Voila.ip=127.0.0.1 --port=$(PORT) --token \
		--MappingKernelManager.cull_idle_timeout=600 --MappingKernelManager.cull_interval=60

lock: ## Re-resolve requirements.txt in a fresh venv and rewrite constraints.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -r requirements.txt -r requirements-instructor.txt \
		-r requirements-jax.txt
	{ head -n 2 constraints.txt; .lock-venv/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .lock-venv
	@echo "constraints.txt refreshed: review 'git diff constraints.txt', then run 'make test'."

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache build dist artifacts *.egg-info
