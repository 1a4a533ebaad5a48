"""Interrupted work leaves nothing half-written (issue 12): `export`, `calibrate` and `build` are stopped mid-write with
SIGINT (Ctrl-C) and with SIGKILL, as a user or the OOM killer stops them. The moment is chosen by watching the output
folder for the temp file of an atomic write, so the signal lands while a file is being written.

After SIGINT: exit code 130, one line, no temp file, every file complete. After SIGKILL nothing can clean up: the temp
file of the killed process is hidden (`.name.<pid>.<random>.partial.ext`), every visible file is complete, and the next
command over that folder removes it before writing."""
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path

import onnx
import pytest

from autovoice_trt import core
from autovoice_trt.graphs.folder import export_components

PARTIAL = core.PARTIAL_MARK


def partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(f".*{PARTIAL}*"))


def check_complete(folder: Path):
    "Every visible file is whole: graphs pass the ONNX checker, JSON parses, engines match their metadata's size and hash."
    for path in folder.rglob("*"):
        if not path.is_file() or path.name.startswith("."): continue
        if path.suffix == ".onnx": onnx.checker.check_model(str(path))
        elif path.suffix == ".json": json.loads(path.read_text())
        elif path.suffix == ".engine":
            meta = json.loads(Path(str(path) + ".json").read_text()) if Path(str(path) + ".json").is_file() else None
            if meta is not None:  # an engine renamed into place before its metadata: the next build redoes it
                assert path.stat().st_size == meta["engine_bytes"] and core.sha256_file(path) == meta["engine_sha256"], path


def interrupt(args: list, folder: Path, sig: int, timeout_s: float = 240.0) -> tuple[subprocess.CompletedProcess, int]:
    "Start `autovoice-trt args`, send `sig` as soon as a temp file of an atomic write appears in `folder`."
    # as a command started at a terminal: SIGINT at its default whatever this test inherited (a background job,
    # `nohup` or `cmd &`, starts with SIGINT ignored, and a Python child keeps an ignored SIGINT ignored)
    process = subprocess.Popen(["autovoice-trt", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout_s
    while not partials(folder):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill(); out, err = process.communicate()
            pytest.fail(f"{args[0]}: no write was caught in progress (exit {process.returncode}): {err[-500:]}")
        time.sleep(0.002)
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(args, process.returncode, out, err), process.pid


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("graphs")
    export_components(None, folder)
    return folder


def command(step: str, graphs: Path, work: Path) -> tuple[list, Path]:
    "The command line of `step` and the folder it writes into."
    if step == "export": return ["export", "--output-dir", work], work
    shutil.copytree(graphs, work, dirs_exist_ok=True)
    if step == "calibrate":  # without the fallback search (38_int8_fallback tests it): the same graphs, cache and int8.json, no fallback file; 12 s instead of 36 s here
        return ["calibrate", "--onnx-dir", work, "--samples", "2", "--seconds", "0.5", "--components", "vocoder", "--no-fallback"], work
    return ["build", "--onnx-dir", work, "--engine-dir", work / "engines", "--precision", "fp32", "--flavour", "tensorrt-rtx",
            "--components", "vocoder"], work / "engines"


@pytest.mark.parametrize("step", ["export", "calibrate", "build"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_step_leaves_only_complete_files(step, sig, graphs, tmp_path):
    if step == "build" and not core.HAS_TRT_RTX: pytest.skip("TensorRT-RTX is not installed: no engine build to interrupt")
    args, folder = command(step, graphs, tmp_path / "work")
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):  # a SIGKILL can land just after a short write was renamed into place (seen under load): catch another write
        result, pid = interrupt(args, folder, sig)
        if sig != signal.SIGKILL or partials(folder): break
    check_complete(tmp_path / "work")
    if sig == signal.SIGINT:
        assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (130, f"autovoice-trt {step}: interrupted"), result.stderr[-500:]
        assert partials(folder) == []
    else:
        assert result.returncode == -signal.SIGKILL
        left = partials(folder)
        assert left and all(f".{pid}." in name for name in left), left  # the killed process's own temp files, hidden
        again = subprocess.run(["autovoice-trt", *map(str, args)], capture_output=True, text=True)  # the next run completes and sweeps
        assert again.returncode == 0, again.stderr[-800:]
        assert partials(folder) == [], partials(folder)
        check_complete(tmp_path / "work")
