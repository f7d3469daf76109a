VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup talk chat test bench lint

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/install.sh
	VENV=$(VENV) bash scripts/install.sh
	touch $@

# Two spoken questions (synthesised on the spot) played into the assistant; replies in out/talk.
talk: setup
	$(BIN)/omnitalk talk --demo --out-dir out/talk

# Live microphone conversation (needs a sound device and PortAudio).
chat: setup
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[mic]"
	$(BIN)/omnitalk chat

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/omnitalk bench asr
	$(BIN)/omnitalk bench latency --plot out/latency.png

lint: setup
	$(BIN)/ruff check src tests
