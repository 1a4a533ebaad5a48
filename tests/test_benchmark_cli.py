"""The benchmark's console script refuses a bad flag in one line, writing nothing. Issue 10's Done-when command itself:
90_cli checks that it parses to exactly its settings, and 66_benchmark_suite runs those settings and checks the report
(its three files, both lengths for every PyTorch and ONNX Runtime precision, the gates, the memory rows), once per run."""
import subprocess

def test_bad_flag_is_one_line_and_writes_nothing(tmp_path):
    run = subprocess.run(["autovoice-trt", "benchmark", "--output-dir", str(tmp_path/"out"), "--audio-lengths", "0"], capture_output=True, text=True)
    assert run.returncode == 2 and "--audio-lengths: expected seconds in (0, 30]" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path/"out").exists()
