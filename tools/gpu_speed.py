"""Issue 13 on a CUDA GPU: the ceilings, every PyTorch variant per component and end to end, the scale, and ONNX Runtime CUDA's fp16 vocoder.

Run from the repo root on a GPU machine, one part per call (each writes its JSON as it goes):
    python tools/gpu_speed.py --part main     --out $OUT/speed_main.json      # ceilings; variants x batch 1, 4 (5 s)
    python tools/gpu_speed.py --part scale    --out $OUT/speed_scale.json     # pipeline at batch 16, 64 (5 s) and 30 s clips
    python tools/gpu_speed.py --part autotune --out $OUT/speed_autotune.json  # the max-autotune variant
    python tools/gpu_speed.py --part ort      --out $OUT/speed_ort.json       # ONNX Runtime CUDA: fp32 vs fp16 graphs, provider options, profile
nbs/67_gpu_speed.ipynb reads the merged result (nbs/data/h200_speed.json).
"""
import argparse, collections, json, sys, time, traceback
from pathlib import Path

import torch

from autovoice_trt.backends.onnxruntime import CUDA_PROVIDER_OPTIONS
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.evaluation.benchmark import benchmark_feeds, benchmark_torch, environment_stamp, spin_up_gpu, time_runner
from autovoice_trt.evaluation.roofline import measure_ceilings

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--part", required=True, choices=["main", "scale", "autotune", "ort"])
parser.add_argument("--out", required=True)
args = parser.parse_args()
if not torch.cuda.is_available(): sys.exit("no CUDA GPU: this script measures GPU latency")
torch.backends.cuda.matmul.allow_tf32 = False; torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32

t0 = time.perf_counter()
result = {"environment": {**environment_stamp("cuda"), "tf32": False}, "part": args.part, "rows": [], "notes": []}
def log(*a): print(f"[{time.perf_counter() - t0:6.1f}s]", *a, flush=True)
def save():
    result["seconds_total"] = round(time.perf_counter() - t0, 1)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))

svc = SingingVoiceConverter()
result["weights"] = svc.weights

def torch_rows(variants, batches, seconds, components, warmup=20, iterations=50):
    for variant in variants:
        start = time.perf_counter()
        rows = benchmark_torch(svc, "cuda", [variant], batches, seconds, components, warmup, iterations, log=log)
        for r in rows: r.update(seconds=seconds, wall_s_with_compile=round(time.perf_counter() - start, 1))
        result["rows"] += rows; save()

if args.part == "main":
    spin_up_gpu(3.0)
    result["ceilings"] = measure_ceilings("cuda"); save(); log("ceilings", result["ceilings"])
    torch_rows(["eager fp32", "cuda graphs fp32", "autocast fp16", "cuda graphs autocast fp16", "channels-last fp16", "fast fp16"],
               (1, 4), 5.0, ("content_encoder", "pitch_encoder", "flow_decoder", "mel_projection", "vocoder", "pipeline"))

if args.part == "scale":
    spin_up_gpu(3.0)
    result["ceilings"] = measure_ceilings("cuda"); save()
    torch_rows(["eager fp32", "channels-last fp16", "fast fp16"], (16, 64), 5.0, ("pipeline",), 10, 30)
    torch_rows(["eager fp32", "channels-last fp16", "fast fp16"], (1, 4), 30.0, ("pipeline",), 10, 30)

if args.part == "autotune":
    spin_up_gpu(3.0)
    torch_rows(["fast fp16 max-autotune"], (1, 4), 5.0, ("vocoder",))
    torch_rows(["fast fp16 max-autotune"], (4,), 5.0, ("pipeline",))

if args.part == "ort":
    import onnxruntime as ort
    from autovoice_trt.backends.onnxruntime import OnnxRuntimeRunner
    from autovoice_trt.graphs.fp16 import convert_fp16
    from autovoice_trt.graphs.folder import GraphFolder
    result["onnxruntime"] = ort.__version__; result["providers_available"] = ort.get_available_providers()
    graph_dir = Path("/tmp/speed_graphs")
    if not (graph_dir/"manifest.json").is_file(): svc.export_components_to_onnx(graph_dir)
    convert_fp16(graph_dir, svc.config)
    folder = GraphFolder(graph_dir, svc.config)
    log("graphs", folder.available())
    feeds = {b: benchmark_feeds(svc, 5.0, b) for b in (1, 4)}
    OPTION_SETS = {"project (EXHAUSTIVE)": {}, "HEURISTIC search": {"cudnn_conv_algo_search": "HEURISTIC"},
                   "conv1d as [N,C,1,D]": {"cudnn_conv1d_pad_to_nc1d": 1}, "prefer_nhwc": {"prefer_nhwc": 1},
                   "prefer_nhwc + conv1d as [N,C,1,D]": {"prefer_nhwc": 1, "cudnn_conv1d_pad_to_nc1d": 1}}
    spin_up_gpu(3.0)
    for component in ("vocoder", "content_encoder", "flow_decoder"):
        for label, extra in OPTION_SETS.items():
            for precision in ("fp32", "fp16"):
                options = {"device_id": 0, **CUDA_PROVIDER_OPTIONS, **extra}
                try:
                    runner = OnnxRuntimeRunner(folder.graph(component, precision), svc.contracts[component], providers=("CUDAExecutionProvider", "CPUExecutionProvider"),
                                               provider_options=[options, {}], precision=precision, io_binding=True)
                    with runner:
                        applied = runner.session.get_provider_options().get("CUDAExecutionProvider", {})
                        for b in (1, 4):
                            st = time_runner(runner, feeds[b][component], warmup=10, iterations=30, audio_seconds=5.0 * b)
                            row = {"component": component, "options": label, "precision": precision, "batch": b, "p50_ms": st.p50_ms, "p90_ms": st.p90_ms,
                                   "applied": {k: applied.get(k) for k in ("cudnn_conv_algo_search", "cudnn_conv1d_pad_to_nc1d", "prefer_nhwc")}}
                            result["rows"].append(row); save(); log(f"{component:>15} {label:>34} {precision} b{b}: {st.p50_ms:.3f} ms")
                except Exception as e:
                    result["notes"].append(f"{component} {label} {precision}: {type(e).__name__}: {str(e)[:300]}"); save(); log("FAILED", component, label, precision, e)
    # where the fp16 vocoder's time goes: ONNX Runtime's own profile, per operator type, against fp32 (project options, batch 4)
    for label, extra in (("project (EXHAUSTIVE)", {}), ("prefer_nhwc + conv1d as [N,C,1,D]", {"prefer_nhwc": 1, "cudnn_conv1d_pad_to_nc1d": 1})):
        for precision in ("fp32", "fp16"):
            try:
                so = ort.SessionOptions(); so.enable_profiling = True; so.profile_file_prefix = f"/tmp/ortprof_{precision}"
                so.log_severity_level = 3
                so.optimized_model_filepath = f"/tmp/vocoder_{precision}_optimized.onnx"
                sess = ort.InferenceSession(str(folder.graph("vocoder", precision)), so, providers=["CUDAExecutionProvider", "CPUExecutionProvider"],
                                            provider_options=[{"device_id": 0, **CUDA_PROVIDER_OPTIONS, **extra}, {}])
                mel = feeds[4]["vocoder"]["mel_input"].numpy()
                for _ in range(15): sess.run(None, {"mel_input": mel})
                prof = sess.end_profiling()
                events = json.loads(Path(prof).read_text())
                by_op, kernels = collections.Counter(), collections.Counter()
                for e in events:
                    if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"): by_op[e["args"].get("op_name", "?")] += e["dur"]
                import onnx
                optimized = onnx.load(f"/tmp/vocoder_{precision}_optimized.onnx")
                node_types = collections.Counter(n.op_type for n in optimized.graph.node)
                result.setdefault("ort_profile", []).append({"options": label, "precision": precision, "batch": 4, "runs": 15,
                    "us_per_run_by_op": {k: round(v / 15, 1) for k, v in by_op.most_common()}, "optimized_graph_nodes": dict(node_types.most_common())})
                save(); log("profile", label, precision, dict(list(by_op.most_common())[:6]), dict(node_types.most_common(8)))
            except Exception as e:
                result["notes"].append(f"profile {label} {precision}: {type(e).__name__}: {traceback.format_exc()[-600:]}"); save(); log("FAILED profile", e)
save(); log("done")
