# `make run` and `make test` are the whole set-up: both create .venv when it is missing
# (or when a requirements file changed) and install into it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
STREAMLIT_FLAGS := --server.port $(PORT) --server.headless true \
	--server.fileWatcherType none --browser.gatherUsageStats false

.PHONY: run test test-slow bench scale clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# mup (muP's reference code) for the test that checks our parametrization against it;
	# without --no-deps pip would swap torch for a CUDA build
	$(PY) -m pip install --quiet --no-deps "mup==1.0.0"
	touch $@

# Ray, for LAB_BACKEND=ray (optional; `make test` runs the Ray tests once it is there)
scale: $(VENV)/.scale

$(VENV)/.scale: $(VENV)/.installed requirements-scale.txt
	$(PY) -m pip install --quiet -r requirements-scale.txt
	touch $@

run: $(VENV)/.installed
	@echo "The Lab: http://localhost:$(PORT)"
	$(PY) -m streamlit run app.py $(STREAMLIT_FLAGS)

test: $(VENV)/.installed
	$(PY) -m pytest

# the sweeps marked slow (minutes each): the high bounds of steps and sizes, big presets
test-slow: $(VENV)/.installed
	$(PY) -m pytest -m slow

bench: $(VENV)/.installed
	$(PY) bench/engine_overhead.py
	$(PY) bench/instances.py
	$(PY) bench/ensemble_batching.py
	$(PY) bench/data_pages.py
	$(PY) bench/optimization_pages.py
	$(PY) bench/capsules.py
	$(PY) bench/costs.py
	$(PY) bench/latency.py
	$(PY) bench/visitors.py
	$(PY) bench/ray_sweep.py

clean:
	rm -rf $(VENV) .pytest_cache
