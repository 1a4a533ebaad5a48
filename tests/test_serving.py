"""`autovoice-trt serve` under load (issue 16), in CI: the server started from the serve environment (.venv-serve, which
tools/test.sh makes with tools/serve_env.sh: PyTriton pins numpy<2) on 127.0.0.1 with ONNX Runtime's CPU provider, a
bounded load of concurrent clients of mixed lengths, every answer checked against a direct conversion, the bad requests
the issue names, Triton's batch statistics, the server's memory, then SIGTERM and a check that nothing is left."""
import os, signal, subprocess, time
from pathlib import Path

import psutil
import pytest

from autovoice_trt.config import load_config
from autovoice_trt.graphs.folder import export_components
from autovoice_trt.serving.load import serve_and_load, serve_python, served


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serving")/"graphs"
    folder.mkdir()
    export_components(load_config(), folder, weights="reference")
    return folder


def runner_args(graphs):
    return ["--backend", "onnxruntime", "--onnx-dir", str(graphs), "--precision", "fp32", "--weights", "reference"]


def test_serve_under_load(graphs):
    result = serve_and_load(serve_python(), runner_args(graphs), requests=160, concurrency=8)
    load, server = result["load"], result["server"]
    assert result["load_exit_code"] == 0, result["load_log"]
    assert (load["requests"], load["ok"], load["errors"], load["disagreeing"]) == (160, 160, [], 0)
    assert load["min_snr_db"] >= load["agreement_gate_db"]
    assert [b["label"] for b in load["bad_requests"] if not b["as_expected"]] == [], load["bad_requests"]
    assert load["answers_after_bad_requests"]
    assert load["requests_batched"] > 0 and max(int(b) for b in load["batches"]) > 1, load["batches"]  # Triton's dynamic batcher combined requests
    assert max(int(b) for b in load["batches"]) <= load["max_batch_size"]
    assert load["rss_mb"]["second_half_growth"] < 32, load["rss_mb"]  # flat over the second half of the run
    assert server["exit_code"] == 0 and not server.get("killed"), server["log_tail"]
    assert (server["left_running"], server["ready_file_left"], server["tmp_left"], server["pytriton_cache_left"]) == ([], False, [], [])


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_stop_signals(graphs, how):
    "SIGINT (Ctrl-C, and a backgrounded server, whose shell ignores SIGINT for it) and SIGTERM both stop it cleanly."
    with served(serve_python(), runner_args(graphs) + _ports()) as server:
        os.kill(server["pid"], how)
        process, deadline = psutil.Process(server["pid"]), time.monotonic() + 60
        while time.monotonic() < deadline and process.is_running() and process.status() != psutil.STATUS_ZOMBIE: time.sleep(0.2)
        assert process.status() == psutil.STATUS_ZOMBIE, "still running 60 s after the signal"  # exited (its parent, this test, has not reaped it yet)
    assert server["exit_code"] == 0, server["log_tail"]
    assert (server["left_running"], server["ready_file_left"], server["tmp_left"]) == ([], False, [])
    assert any("stopping" in line or "stopped" in line for line in server["log_tail"]), server["log_tail"]


def _ports():
    from autovoice_trt.serving.load import free_ports
    http, grpc, metrics = free_ports(3)
    return ["--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics)]


def test_bad_flags_before_any_work(graphs):
    "A max batch beyond the profiles is one line and exit code 2, before Triton starts."
    run = subprocess.run([str(serve_python()), "-c", "import sys; from autovoice_trt.cli import main; sys.exit(main())", "serve",
                          *runner_args(graphs), "--max-batch-size", "64", *_ports()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith("autovoice-trt serve: error: serving.max_batch_size: expected 1..4"), run.stderr
