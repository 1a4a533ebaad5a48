"""Issues 16 and 25 on the CPU: `autovoice-trt serve` from .venv-serve (tools/serve_env.sh) on ONNX Runtime's CPU provider (fp32
graphs), `autovoice-trt load-test` against it (the load, the throughput curve at 1/4/8/16 clients, every bad request), then
SIGTERM; then a second server stopped with clients still sending. The report goes to nbs/data/cpu_serving_load.json, which
nbs/85_serving and nbs/86_serving_load render. tests/test_serving.py runs the same, smaller, in CI.

    python tools/serving_load.py --out nbs/data/cpu_serving_load.json [--requests 240] [--concurrency 8] [--clients 1 4 8 16]
"""
import argparse, os, tempfile, time
from pathlib import Path

from autovoice_trt.config import load_config
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.core import write_json_atomic
from autovoice_trt.evaluation.benchmark import environment_stamp
from autovoice_trt.graphs.folder import export_components
from autovoice_trt.serving.load import load_cases, serve_and_load, serve_python, stop_under_load


def batching_ceiling(graphs, weights, repeats=5):
    "What batching alone gives on this machine, no server: the load test's 12 requests converted one by one and all together (`convert_batch`), same runners."
    from autovoice_trt.config import COMPONENTS
    from autovoice_trt.pipeline import convert_batch, prepare_inputs
    config = load_config()
    svc = SingingVoiceConverter(config, weights=weights)
    runners, m, c = svc.runners("onnxruntime", "fp32", graphs), config.model, config.conversion
    profiles = {k: config.tensorrt.voice_conversion.profile(k) for k in COMPONENTS}
    rows = [prepare_inputs(case["source_audio"][0], m.output_sample_rate_hz, case["speaker_embedding"][0], m, c, pitch_shift=float(case["pitch_shift"][0, 0]))
            for case in load_cases(svc)]
    audio_s = sum(len(u.audio_out) for u in rows) / m.output_sample_rate_hz
    def rate(convert):
        t0 = time.perf_counter(); convert()
        return audio_s / (time.perf_counter() - t0)
    ways = {"one": lambda: [convert_batch(runners, [u], m, c, svc.contracts, profiles) for u in rows], "together": lambda: convert_batch(runners, rows, m, c, svc.contracts, profiles)}
    for convert in ways.values(): convert()  # warm-up
    measured:dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(repeats):  # in turn, so a drifting machine load hits both alike
        for k, convert in ways.items(): measured[k].append(rate(convert))
    one, together = (sorted(measured[k])[repeats // 2] for k in ways)
    svc.close()
    return {"one_by_one_audio_s_per_s": one, "together_audio_s_per_s": together, "ratio": together / one, "requests": len(rows),
            "rounds": measured, "note": "medians of rounds taken in turn; the chain and loudness only (rows prepared beforehand), in this process, ONNX Runtime fp32 CPU, the config's profiles (batch limit 4)"}

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", required=True)
parser.add_argument("--requests", type=int, default=240)
parser.add_argument("--concurrency", type=int, default=8)
parser.add_argument("--clients", type=int, nargs="*", default=[1, 4, 8, 16])
parser.add_argument("--weights", default="trained")
parser.add_argument("--serve-args", nargs="*", default=[], help="flags for serve only, e.g. --instances 2")
args = parser.parse_args()

t0 = time.perf_counter()
graphs = Path(tempfile.mkdtemp(prefix="serving-load-"))/"graphs"; graphs.mkdir()
export_components(load_config(), graphs, weights=args.weights)
runner_args = ["--backend", "onnxruntime", "--onnx-dir", str(graphs), "--precision", "fp32", "--weights", args.weights]
load_before = os.getloadavg()
ceiling = batching_ceiling(graphs, args.weights)
result = serve_and_load(serve_python(), runner_args, args.requests, args.concurrency, clients=args.clients, serve_args=args.serve_args)
stop = stop_under_load(serve_python(), runner_args + args.serve_args, load_cases(SingingVoiceConverter(load_config(), weights=args.weights)))
write_json_atomic(args.out, {"environment": environment_stamp("cpu") | {"cpu_count": os.cpu_count(), "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()}},
                             "script": "tools/serving_load.py", "backend": f"onnxruntime fp32 (CPU provider), {args.weights} weights",
                             **result, "batching_without_server": ceiling, "stop_under_load": stop, "seconds_total": round(time.perf_counter() - t0, 1)})
print(result["load_log"][-1] if result["load_log"] else "", f"; server exit {result['server']['exit_code']}, left running {result['server']['left_running']}")
print(f"batching without a server: {ceiling['ratio']:.2f}x ({ceiling['together_audio_s_per_s']:.1f} vs {ceiling['one_by_one_audio_s_per_s']:.1f} audio s per s)")
print("stop under load:", stop["answers"], "exit", stop["server"]["exit_code"], f"{stop['server']['exit_after_sigterm_s']:.1f} s;", stop["stopped_line"])
