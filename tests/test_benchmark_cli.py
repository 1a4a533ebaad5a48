"""The seed's benchmark as issue 10's Done-when runs it, on a fresh install: the exact command, its three files, and a
row for every PyTorch and ONNX Runtime precision (a run, or the reason it cannot run here)."""
import json, subprocess

COMMAND = ["autovoice-trt", "benchmark", "--samples", "2", "--warmup", "1", "--audio-lengths", "1,2", "--precision-modes", "fp32,fp16,int8",
           "--include-accuracy", "--include-memory", "--device", "cpu"]

def test_done_when_command(tmp_path):
    out = tmp_path/"out"
    run = subprocess.run([*COMMAND, "--output-dir", str(out)], capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["benchmark.json", "benchmark.md", "benchmark.png"]
    report = json.loads((out/"benchmark.json").read_text())
    assert report["format"] == "autovoice_trt.benchmark/1" and report["environment"]["torch"].startswith("2.")
    timed = {(r["backend"], r["precision"], r["seconds"]) for r in report["timing"] if r["component"] == "end_to_end"}
    for backend, precision in [("torch", "fp32"), ("torch", "fp16"), ("onnxruntime", "fp32"), ("onnxruntime", "fp16"), ("onnxruntime", "int8")]:
        assert {(backend, precision, 1.0), (backend, precision, 2.0)} <= timed, (backend, precision)
    assert {(u["backend"], u["precision"]) for u in report["unavailable"]} >= {("torch", "int8"), ("tensorrt", "fp32")}
    assert all(a["gate_pass"] for a in report["accuracy"] if a.get("gated")), [a for a in report["accuracy"] if not a.get("gate_pass")]
    assert len(report["memory"]) == 5 and all(m["cpu_rss_above_imports_mb"] > 0 for m in report["memory"])
    markdown = (out/"benchmark.md").read_text()
    assert "## End to end" in markdown and "## Accuracy" in markdown and "## Memory" in markdown and "## Not run here" in markdown

def test_bad_flag_is_one_line_and_writes_nothing(tmp_path):
    run = subprocess.run(["autovoice-trt", "benchmark", "--output-dir", str(tmp_path/"out"), "--audio-lengths", "0"], capture_output=True, text=True)
    assert run.returncode == 2 and "--audio-lengths: expected seconds in (0, 30]" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path/"out").exists()
