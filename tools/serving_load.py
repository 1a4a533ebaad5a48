"""Issues 16 and 25: `autovoice-trt serve` from .venv-serve (tools/serve_env.sh, or AUTOVOICE_SERVE_PYTHON) on ONNX Runtime's CPU
provider (fp32 graphs, the config's serving defaults), or with --device cuda on torch's GPU runners (--torch-variant, held active), `autovoice-trt load-test` against it (the load, then the throughput curve at 1/4/8/16
clients in turn with converting the same requests one by one in one process, each measurement held back until the shared
machine is quiet, then every bad request), then SIGTERM; then a second server stopped with clients still sending. The report
goes to nbs/data/cpu_serving_load.json, which nbs/85_serving and nbs/86_serving_load render (where a request's time goes:
tools/serving_profile.py). tests/test_serving.py runs the same, smaller, in CI.

    python tools/serving_load.py --out nbs/data/cpu_serving_load.json [--requests 240] [--concurrency 8] [--clients 1 4 8 16] [--quiet-cores 0.3]
    python tools/serving_load.py --out $OUT/h200_serving_load.json --device cuda --torch-variant "channels-last fp16" --agreement log-mel --agreement-db 35
"""
import argparse, os, tempfile, time
from pathlib import Path

from autovoice_trt.config import load_config
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.core import write_json_atomic
from autovoice_trt.evaluation.benchmark import environment_stamp
from autovoice_trt.graphs.folder import export_components
from autovoice_trt.serving.load import load_cases, serve_and_load, serve_python, stop_under_load


parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", required=True)
parser.add_argument("--requests", type=int, default=240)
parser.add_argument("--concurrency", type=int, default=8)
parser.add_argument("--clients", type=int, nargs="*", default=[1, 4, 8, 16])
parser.add_argument("--weights", default="trained")
parser.add_argument("--serve-args", nargs="*", default=[], help="flags for serve only, e.g. --instances 2")
parser.add_argument("--device", default="cpu", help="cpu: ONNX Runtime's CPU provider on fp32 graphs; cuda: torch's runners on the GPU")
parser.add_argument("--torch-variant", default="channels-last fp16", help="with --device cuda: the runners' variant")
parser.add_argument("--agreement", choices=["waveform", "log-mel"], default="waveform", help="load-test --agreement (log-mel on a GPU: batching rows there changes the kernels, and the waveform's phase)")
parser.add_argument("--agreement-db", type=float, default=60.0, help="load-test --agreement-db (35 with log-mel: the fp16 end-to-end gate)")
parser.add_argument("--skip-stop", action="store_true", help="leave out the second server stopped under load")
parser.add_argument("--quiet-cores", type=float, default=0.3, help="before each measurement of the curve, wait (at most 2 min) until the rest of the machine uses fewer cores than this")
args = parser.parse_args()

t0 = time.perf_counter()
if args.device == "cpu":
    graphs = Path(tempfile.mkdtemp(prefix="serving-load-"))/"graphs"; graphs.mkdir()
    export_components(load_config(), graphs, weights=args.weights)
    runner_args, backend = ["--backend", "onnxruntime", "--onnx-dir", str(graphs), "--precision", "fp32", "--weights", args.weights], f"onnxruntime fp32 (CPU provider), {args.weights} weights"
else:
    runner_args, backend = ["--backend", "torch", "--device", args.device, "--torch-variant", args.torch_variant, "--weights", args.weights], f"torch {args.torch_variant} on {args.device}, {args.weights} weights"
load_before = os.getloadavg()
result = serve_and_load(serve_python(), runner_args, args.requests, args.concurrency, timeout_s=3600, clients=args.clients, serve_args=args.serve_args,
                        quiet_cores=args.quiet_cores, load_args=["--agreement", args.agreement, "--agreement-db", str(args.agreement_db)])
stop = None if args.skip_stop else stop_under_load(serve_python(), runner_args + args.serve_args, load_cases(SingingVoiceConverter(load_config(), weights=args.weights)))
write_json_atomic(args.out, {"environment": environment_stamp(args.device) | {"cpu_count": os.cpu_count(), "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()}},
                             "script": "tools/serving_load.py", "backend": backend, "serve_args": args.serve_args,
                             **result, "stop_under_load": stop, "seconds_total": round(time.perf_counter() - t0, 1)})
print(result["load_log"][-1] if result["load_log"] else "", f"; server exit {result['server']['exit_code']}, left running {result['server']['left_running']}")
curve = result["load"].get("curve")
for row in (curve["direct"] + curve["served"]) if curve else []:
    print(f"{row.get('label') or str(row['clients']) + ' clients'}: {row['audio_s_per_s']:.2f} audio s per s (rounds {', '.join(f'{x:.1f}' for x in row['audio_s_per_s_rounds'])}; others' cores {', '.join(f'{x:.2f}' for x in row['others_cores_rounds'])})")
if stop: print("stop under load:", stop["answers"], "exit", stop["server"]["exit_code"], f"{stop['server']['exit_after_sigterm_s']:.1f} s;", stop["stopped_line"])
