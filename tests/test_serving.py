"""`autovoice-trt serve` under load (issues 16 and 25), in CI: the server started from the serve environment (.venv-serve,
which tools/test.sh makes with tools/serve_env.sh: PyTriton pins numpy<2) on 127.0.0.1 with ONNX Runtime's CPU provider,
a bounded load of concurrent clients of mixed lengths, every answer checked against a direct conversion, every bad request
of `bad_cases` refused in one line (none a 500), Triton's batch statistics, the server's memory, then SIGTERM and a check
that nothing is left; a second server stopped with SIGTERM while clients keep sending, a third with SIGINT."""
import os, re, signal, subprocess, time

import psutil
import pytest

from autovoice_trt.config import load_config
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.graphs.folder import export_components
from autovoice_trt.serving.load import free_ports, load_cases, serve_and_load, serve_python, served, stop_under_load


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serving")/"graphs"
    folder.mkdir()
    export_components(load_config(), folder, weights="reference")
    return folder


def runner_args(graphs):
    return ["--backend", "onnxruntime", "--onnx-dir", str(graphs), "--precision", "fp32", "--weights", "reference"]


def test_serve_under_load(graphs):
    result = serve_and_load(serve_python(), runner_args(graphs), requests=96, concurrency=8, serve_args=["--instances", "2"])
    load, server = result["load"], result["server"]
    assert result["load_exit_code"] == 0, result["load_log"]
    assert (load["requests"], load["ok"], load["errors"], load["disagreeing"]) == (96, 96, [], 0)
    assert load["min_snr_db"] >= load["agreement_gate_db"]
    bad = load["bad_requests"]
    assert len(bad) >= 15, bad
    assert [b["label"] for b in bad if not b["as_expected"] or not b["one_line"]] == [], bad  # each refused where expected, in one line, none a 500
    assert load["answers_after_bad_requests"]
    assert load["requests_batched"] > 0 and max(int(b) for b in load["batches"]) > 1, load["batches"]  # Triton's dynamic batcher combined requests
    assert max(int(b) for b in load["batches"]) <= load["max_batch_size"]
    rss = load["rss_mb"]  # after a warm-up that ran until a round left the memory settled: a leak grows in both halves of the load; an allocator
    assert min(rss["first_half_growth"], rss["second_half_growth"]) < 16, rss  # meeting a batch size x length late grows once (measured: flat from ~800 requests on)
    assert server["exit_code"] == 0 and not server.get("killed"), server["log_tail"]  # 0: the stop was clean (serve checks it)
    assert (server["left_running"], server["ready_file_left"], server["tmp_left"], server["pytriton_cache_left"]) == ([], False, [], [])


def test_stop_under_load(graphs):
    "SIGTERM while 8 clients keep sending: every answer converted or refused in one line, a clean stop (exit code 0), nothing left."
    cases = load_cases(SingingVoiceConverter(load_config(), weights="reference"), lengths_s=(0.6, 1.0))
    stop = stop_under_load(serve_python(), runner_args(graphs) + ["--instances", "2", "--drain-seconds", "5"], cases, clients=8)
    server, answers = stop["server"], stop["answers"]
    assert answers.get("converted", 0) > 0 and answers.get("refused: model unloading (one line)", 0) > 0, answers
    assert [kind for kind in answers if kind.startswith("other")] == [], answers  # no 500, no traceback, nothing unexplained
    assert server["exit_code"] == 0, (stop["stopped_line"], server["log_tail"])
    assert "clean" in stop["stopped_line"] and "NOT clean" not in stop["stopped_line"], stop["stopped_line"]
    assert int(re.search(r"(\d+) /dev/shm files of the server's checked", stop["stopped_line"]).group(1)) > 0  # Triton's python backend maps its regions there: the check saw them, and none is left
    assert server["exit_after_sigterm_s"] < 5 + 30, server["exit_after_sigterm_s"]
    assert (server["left_running"], server["ready_file_left"], server["tmp_left"]) == ([], False, [])


def test_stop_sigint(graphs):
    "SIGINT (Ctrl-C, and a backgrounded server, whose shell ignores SIGINT for it) stops it cleanly too."
    with served(serve_python(), runner_args(graphs) + _ports()) as server:
        os.kill(server["pid"], signal.SIGINT)
        process, deadline = psutil.Process(server["pid"]), time.monotonic() + 60
        while time.monotonic() < deadline and process.is_running() and process.status() != psutil.STATUS_ZOMBIE: time.sleep(0.2)
        assert process.status() == psutil.STATUS_ZOMBIE, "still running 60 s after the signal"  # exited (its parent, this test, has not reaped it yet)
    assert server["exit_code"] == 0, server["log_tail"]
    assert (server["left_running"], server["ready_file_left"], server["tmp_left"]) == ([], False, [])
    assert any(line.startswith("stopped:") and "clean" in line for line in server["log_tail"]), server["log_tail"]


def _ports():
    http, grpc, metrics = free_ports(3)
    return ["--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics)]


@pytest.mark.parametrize("flags, expected", [(["--max-batch-size", "64"], "serving.max_batch_size: expected 1..4"),
                                             (["--instances", "2", "--chains", "3"], "serving.chains: expected 0 (one per CPU core) up to serving.instances (2")])
def test_bad_flags_before_any_work(graphs, flags, expected):
    "A max batch beyond the profiles, or more chain runs at once than instances to run them, is one line and exit code 2, before Triton starts."
    run = subprocess.run([str(serve_python()), "-c", "import sys; from autovoice_trt.cli import main; sys.exit(main())", "serve",
                          *runner_args(graphs), *flags, *_ports()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith(f"autovoice-trt serve: error: {expected}"), run.stderr
