"""Issue 16 on the CPU: `autovoice-trt serve` from .venv-serve (tools/serve_env.sh) on ONNX Runtime's CPU provider (fp32 graphs,
trained weights), `autovoice-trt load-test` against it, then SIGTERM; the report goes to nbs/data/cpu_serving_load.json, which
nbs/86_serving_load renders. tests/test_serving.py runs the same in CI.

    python tools/serving_load.py --out nbs/data/cpu_serving_load.json [--requests 240] [--concurrency 8]
"""
import argparse, tempfile, time
from pathlib import Path

from autovoice_trt.config import load_config
from autovoice_trt.core import write_json_atomic
from autovoice_trt.evaluation.benchmark import environment_stamp
from autovoice_trt.graphs.folder import export_components
from autovoice_trt.serving.load import serve_and_load, serve_python

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", required=True)
parser.add_argument("--requests", type=int, default=240)
parser.add_argument("--concurrency", type=int, default=8)
parser.add_argument("--weights", default="trained")
args = parser.parse_args()

t0 = time.perf_counter()
graphs = Path(tempfile.mkdtemp(prefix="serving-load-"))/"graphs"; graphs.mkdir()
export_components(load_config(), graphs, weights=args.weights)
runner_args = ["--backend", "onnxruntime", "--onnx-dir", str(graphs), "--precision", "fp32", "--weights", args.weights]
result = serve_and_load(serve_python(), runner_args, args.requests, args.concurrency)
write_json_atomic(args.out, {"environment": environment_stamp("cpu"), "script": "tools/serving_load.py",
                             "backend": f"onnxruntime fp32 (CPU provider), {args.weights} weights", **result, "seconds_total": round(time.perf_counter() - t0, 1)})
print(result["load_log"][-1] if result["load_log"] else "", f"; server exit {result['server']['exit_code']}, left running {result['server']['left_running']}")
