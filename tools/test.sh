#!/usr/bin/env bash
# The project's one test command (README, .ci/run). Stages:
#   1. notebooks are clean and the generated modules are in step (nbdev_clean / nbdev_export change nothing)
#   2. nbdev_test: every notebook, top to bottom (cells flagged slow / cuda / trt are skipped here)
#   3. pytest tests/ (the serving tests start the server from .venv-serve, which tools/serve_env.sh makes when missing)
#   4. the docs, offline: nbdev_proc_nbs (with a no-op `quarto`: quarto cannot be installed here), Sphinx + myst-nb
#      into _site/ (tools/docs.py), then every page opened in headless Chromium (tools/check_site.py; Debian's
#      `chromium` package, which .ci/run installs)
set -euo pipefail
cd "$(dirname "$0")/.."
passed=0

# Run in the project's environment: activate .venv when none is active, and stop (installing nothing) when the
# project's tools are not on PATH, rather than pip-installing into whatever Python comes first.
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
if ! command -v nbdev_clean >/dev/null 2>&1 || ! python -c "import autovoice_trt" 2>/dev/null; then
  echo "tools/test.sh: the project is not installed in $(command -v python || echo 'any python on PATH'): run README's first command, or activate its venv (. .venv/bin/activate)" >&2
  exit 2
fi

# mypy checks the TensorRT 10 path against tensorrt-stubs, whose metadata requires the unreachable `tensorrt`
# wheel: install it without dependencies.
python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorrt_stubs') is None)" \
  || python -m pip install -q --no-deps "tensorrt-stubs==10.13.0.35.1"

snapshot() { git ls-files -co --exclude-standard -- nbs autovoice_trt settings.ini | LC_ALL=C sort | xargs -r sha256sum; }

echo "== 1/4 nbdev_clean + nbdev_export change nothing"
before=$(snapshot)
nbdev_clean
nbdev_export
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "FAILED: nbdev_clean or nbdev_export changed these files (run both and commit):"
  diff <(echo "$before") <(echo "$after") | sed -n 's/^> [0-9a-f]*  /  /p'
  exit 1
fi
passed=$((passed+1))

echo "== 2/4 nbdev_test"
start=$SECONDS
nbdev_test --timing
echo "nbdev_test took $((SECONDS-start)) s"
passed=$((passed+1))

echo "== 3/4 pytest"
# tests/test_serving.py runs `autovoice-trt serve` from its own venv (PyTriton pins numpy<2): made once, kept after
bash tools/serve_env.sh
python -m pytest -q tests
passed=$((passed+1))

echo "== 4/4 docs (offline)"
python tools/docs.py
python tools/check_site.py
passed=$((passed+1))

echo "stages: $passed passed, 0 failed"
