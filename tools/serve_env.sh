#!/usr/bin/env bash
# The serving environment, .venv-serve beside the project's .venv: PyTriton 0.7 (the `serve` extra) pins numpy<2 and
# protobuf<7, so `autovoice-trt serve` runs from a venv of its own and the project keeps numpy 2.
# torch: the version of the project's venv (2.13.0 without one). On a CPU-only machine get the CPU wheel the same way
# as for the project: TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash tools/serve_env.sh
# Idempotent: an existing .venv-serve with PyTriton and this project importable is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
if .venv-serve/bin/python -c "import pytriton, autovoice_trt" 2>/dev/null; then echo "serve env: .venv-serve is ready"; exit 0; fi
torch_version=$( (.venv/bin/python -c "import torch; print(torch.__version__.split('+')[0])" 2>/dev/null) || echo 2.13.0)
python3 -m venv .venv-serve
.venv-serve/bin/python -m pip install -q --upgrade pip
if [ -n "${TORCH_INDEX_URL:-}" ]; then .venv-serve/bin/pip install -q "torch==$torch_version" --index-url "$TORCH_INDEX_URL"; fi
.venv-serve/bin/pip install -q "torch==$torch_version" -e ".[serve]"
.venv-serve/bin/python -c "import numpy, pytriton, torch, autovoice_trt; print(f'serve env: .venv-serve ready (numpy {numpy.__version__}, torch {torch.__version__}, PyTriton)')"
