#!/usr/bin/env bash
# The project's one test command (README, .ci/run). Stages:
#   1. notebooks are clean and the generated modules are in step (nbdev_clean / nbdev_export change nothing)
#   then, at the same time (each alone leaves one of two cores idle much of its time: a notebook or a server start
#   waits, the last notebooks run one by one):
#   2. nbdev_test: every notebook, top to bottom (cells flagged slow / cuda / trt are skipped here)
#   3. pytest tests/ (the serving tests start the server from .venv-serve, which tools/serve_env.sh makes when missing)
#   4. the docs, offline: nbdev_proc_nbs (with a no-op `quarto`: quarto cannot be installed here), Sphinx + myst-nb
#      into _site/ (tools/docs.py), then every page opened in headless Chromium (tools/check_site.py; Debian's
#      `chromium` package, which .ci/run installs)
# Each stage writes its own log; a failed stage's log is printed at the end, with every stage's time.
# Runs the same from any folder, in the foreground or the background (nohup, `cmd &`: SIGINT ignored), stdin closed.
set -euo pipefail
cd "$(dirname "$0")/.."

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

logs=$(mktemp -d "${TMPDIR:-/tmp}/autovoice-test.XXXXXX")
started=$SECONDS
snapshot() { git ls-files -co --exclude-standard -- nbs autovoice_trt settings.ini | LC_ALL=C sort | xargs -r sha256sum; }

echo "== 1/4 nbdev_clean + nbdev_export change nothing"
start=$SECONDS
before=$(snapshot)
nbdev_clean
nbdev_export
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "FAILED: nbdev_clean or nbdev_export changed these files (run both and commit):"
  diff <(echo "$before") <(echo "$after") | sed -n 's/^> [0-9a-f]*  /  /p'
  echo "stages: 0 passed, 1 failed"
  exit 1
fi
echo "ok $((SECONDS-start))" > "$logs/clean.status"

# Each stage in its own process group (setsid), so an interrupt of this script stops all of it.
stage() { # name, command...: run it, its output to $logs/name.log, its result and seconds to $logs/name.status
  local name=$1; shift
  setsid -w bash -c 'echo $$ > "$0.pgid"; start=$SECONDS; if "$@" > "$0.log" 2>&1 < /dev/null; then r=ok; else r=failed; fi; echo "$r $((SECONDS-start))" > "$0.status"' \
    "$logs/$name" "$@" &
  pids+=("$!")
}
pids=()
# Two nbdev_test workers, pytest and the docs share two cores: a torch process with an OpenMP thread per core spins its
# idle threads against the others' (measured here, 4 notebooks under nbdev_test: 120 s at torch's default, 66 s at one
# thread each). One OpenMP thread per process, unless the caller chose otherwise.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
stop_stages() { for f in "$logs"/*.pgid; do [ -f "$f" ] && kill -TERM -- "-$(cat "$f")" 2>/dev/null; done; return 0; }
trap 'stop_stages; echo "tools/test.sh: interrupted" >&2; exit 130' INT TERM
echo "== 2-4/4 nbdev_test, pytest and the docs, at the same time (logs in $logs)"
stage nbdev_test nbdev_test --timing
# tests/test_serving.py runs `autovoice-trt serve` from its own venv (PyTriton pins numpy<2): made once, kept after
stage pytest bash -c 'bash tools/serve_env.sh && python -m pytest -q -p no:cacheprovider --durations=15 tests'
stage docs bash -c 'python tools/docs.py && python tools/check_site.py'
wait "${pids[@]}" || true
trap - INT TERM

passed=0; failed=0
for name in clean nbdev_test pytest docs; do
  read -r result seconds < "$logs/$name.status" || { result=failed; seconds="?"; }
  if [ "$result" = ok ]; then passed=$((passed+1)); else failed=$((failed+1)); fi
  if [ "$name" != clean ]; then
    echo; echo "== $name: $result in $seconds s (log: $logs/$name.log)"
    if [ "$result" = ok ]; then tail -n 25 "$logs/$name.log"; else tail -n 150 "$logs/$name.log"; fi
  fi
done
echo
echo "== stage times (2-4 ran at once; total $((SECONDS-started)) s)"
for name in clean nbdev_test pytest docs; do read -r result seconds < "$logs/$name.status" || true; printf '  %-10s %-6s %s s\n' "$name" "${result:-failed}" "${seconds:-?}"; done
echo "stages: $passed passed, $failed failed"
[ "$failed" = 0 ]
