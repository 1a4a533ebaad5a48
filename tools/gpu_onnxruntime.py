"""ONNX Runtime's CUDA provider on the exported fp32 and fp16 graphs: accuracy against PyTorch CUDA fp32 and latency beside
PyTorch, measured in one run on one GPU.

Run on a GPU machine with `onnxruntime-gpu` (a CUDA 13 build) from the repo root:
    python tools/gpu_onnxruntime.py --out nbs/data/gpu_onnxruntime.json
The notebooks show the committed result: accuracy in nbs/55_accuracy.ipynb, latency in nbs/60_benchmark.ipynb.

- Graphs: exported here (`export_components`) and converted here (`convert_fp16`), as a user would.
- Accuracy: the notebook's held-out clips and comparator (`held_out_loader`, `measure_variant`, `accuracy_rows`); the
  reference is PyTorch CUDA fp32 with TF32 off, and the CUDA provider runs with `use_tf32=0`, so fp32 means fp32.
- Latency, batch 1 and 5 s of audio, p50 of 50 calls after 20 warm-up calls, every ratio against PyTorch eager fp32
  timed in the same run:
  `session.run`: numpy in and out (host <-> device copies included, what `OnnxRuntimeRunner` does);
  `iobinding`: inputs and outputs bound to CUDA tensors (no copies), synchronised around each call;
  `iobinding + cuda graph`: the same with the provider's `enable_cuda_graph` (a row says so where capture fails);
  `iobinding + nhwc`: the same with `prefer_nhwc=1`.
- The session's providers are read from the session (`get_providers()`), never from `get_available_providers()`.
"""
import argparse, copy, json, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch

from autovoice_trt.evaluation.accuracy import accuracy_rows, held_out_loader, measure_variant
from autovoice_trt.evaluation.benchmark import benchmark_feeds, environment_stamp, spin_up_gpu, time_runner
from autovoice_trt.config import COMPONENTS
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.core import write_json_atomic
from autovoice_trt.graphs.folder import export_components
from autovoice_trt.graphs.fp16 import convert_fp16
from autovoice_trt.backends.onnxruntime import OnnxRuntimeRunner
from autovoice_trt.backends.pytorch import TorchRunner

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", required=True, help="JSON file to write")
parser.add_argument("--clips", type=int, default=4, help="held-out synthetic clips for accuracy")
parser.add_argument("--seconds", type=float, default=5.0, help="audio length, accuracy and latency")
parser.add_argument("--warmup", type=int, default=20)
parser.add_argument("--iterations", type=int, default=50)
parser.add_argument("--dry-run", action="store_true", help="check the script on a CPU: CPU provider, 1 clip of 1 s, 2 iterations")
args = parser.parse_args()

DEVICE = "cpu" if args.dry_run else "cuda"
if args.dry_run: args.clips, args.seconds, args.warmup, args.iterations = 1, 1.0, 1, 2
elif not torch.cuda.is_available(): sys.exit("no CUDA GPU: this script measures ONNX Runtime's CUDA provider")
import onnxruntime as ort
if hasattr(ort, "preload_dlls"): ort.preload_dlls()  # CUDA, cuDNN, cuBLAS from the nvidia-* wheels torch uses
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

CUDA_OPTIONS = {"device_id": 0, "use_tf32": 0, "cudnn_conv_algo_search": "EXHAUSTIVE", "cudnn_conv_use_max_workspace": 1,
                "do_copy_in_default_stream": 1}
PROVIDERS = ("CPUExecutionProvider",) if args.dry_run else ("CUDAExecutionProvider", "CPUExecutionProvider")

svc = SingingVoiceConverter()
rate = svc.config.model.content_sample_rate_hz
graph_dir = Path(tempfile.mkdtemp())
t0 = time.perf_counter()
export_components(None, graph_dir)
convert_fp16(graph_dir)
print(f"exported and converted in {time.perf_counter() - t0:.1f} s", flush=True)

def ort_runner(component, suffix, precision, **extra):
    return OnnxRuntimeRunner(graph_dir/f"{component}{suffix}.onnx", svc.contracts[component], providers=PROVIDERS,
                             provider_options=[{}] if args.dry_run else [{**CUDA_OPTIONS, **extra}, {}], precision=precision,
                             content_sample_rate_hz=rate)

GRAPHS = {"fp32 graph": ("", "fp32"), "fp16 graph": (".fp16", "fp16")}

# ---- accuracy -------------------------------------------------------------------------------------------------------
VARIANTS = {f"{name} ORT CUDA": (precision, precision == "fp16", f"onnxruntime {ort.__version__} CUDAExecutionProvider on the {name} (use_tf32=0)")
            for name, (_, precision) in GRAPHS.items()}
loader = held_out_loader(svc, clips=args.clips, seconds=args.seconds)
def torch_modules():  # copies: export_modules() hands out the converter's own modules, which a runner moves to its device
    return copy.deepcopy(svc.export_modules())
reference_modules = torch_modules()
reference = {c: TorchRunner(reference_modules[c], svc.contracts[c], device=DEVICE) for c in COMPONENTS}
records = {}
for name, (suffix, precision) in GRAPHS.items():
    variant = f"{name} ORT CUDA"
    runners = {c: ort_runner(c, suffix, precision) for c in COMPONENTS}
    providers = {c: r.describe()["providers"] for c, r in runners.items()}
    assert all(p[0] == PROVIDERS[0] for p in providers.values()), providers
    records[variant] = measure_variant(svc, loader, None, variant, reference, candidate=runners)
rows = accuracy_rows(records, VARIANTS)
for row in rows: print(json.dumps({k: row.get(k) for k in ("component", "output", "variant", "snr_db", "max_abs", "gate_pass")}), flush=True)

# ---- latency --------------------------------------------------------------------------------------------------------
class BoundRunner:
    "Inputs and outputs bound to CUDA tensors once; `run()` replays the session on them (fixed shapes)."
    def __init__(self, runner, feed):
        self.session = runner.session
        host = {s.name: np.asarray(feed[s.name].cpu().numpy() if isinstance(feed[s.name], torch.Tensor) else feed[s.name]) for s in runner.input_specs}
        outputs = self.session.run(None, host)
        self.inputs = {k: torch.from_numpy(v).to(DEVICE) for k, v in host.items()}
        self.outputs = {o.name: torch.from_numpy(v).to(DEVICE) for o, v in zip(self.session.get_outputs(), outputs)}
        self.binding = self.session.io_binding()
        for k, t in self.inputs.items(): self.binding.bind_input(k, DEVICE, 0, host[k].dtype, list(t.shape), t.data_ptr())
        for k, v in zip(self.outputs, outputs): self.binding.bind_output(k, DEVICE, 0, v.dtype, list(v.shape), self.outputs[k].data_ptr())
    def run(self, _=None):
        self.session.run_with_iobinding(self.binding)
        return self.outputs

def sync():
    if DEVICE == "cuda": torch.cuda.synchronize()

def time_bound(bound):
    for _ in range(args.warmup): bound.run()
    sync()
    times = []
    for _ in range(args.iterations):
        t0 = time.perf_counter(); bound.run(); sync(); times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50))

MODES = {"session.run": {}, "iobinding": {}, "iobinding + cuda graph": {"enable_cuda_graph": 1},
         "iobinding + nhwc": {"prefer_nhwc": 1}}  # prefer_nhwc: convolutions in the layout cuDNN's fp16 kernels want
feeds = benchmark_feeds(svc, args.seconds, 1)
if DEVICE == "cuda": spin_up_gpu()
latency = []
for c in COMPONENTS:
    eager = TorchRunner(torch_modules()[c], svc.contracts[c], device=DEVICE)
    base = time_runner(eager, feeds[c], warmup=args.warmup, iterations=args.iterations).p50_ms
    latency.append({"component": c, "variant": "torch eager fp32", "p50_ms": base, "speedup_vs_torch_eager_fp32": 1.0})
    for name, (suffix, precision) in GRAPHS.items():
        for mode, extra in MODES.items():
            row = {"component": c, "variant": f"ORT CUDA {name}, {mode}"}
            try:
                runner = ort_runner(c, suffix, precision, **extra)
                if mode == "session.run":
                    p50 = time_runner(runner, feeds[c], warmup=args.warmup, iterations=args.iterations).p50_ms  # perf_counter: run() is synchronous
                else:
                    p50 = time_bound(BoundRunner(runner, runner.prepare(feeds[c])))
                row.update(p50_ms=p50, speedup_vs_torch_eager_fp32=base / p50)
            except Exception as e:
                row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
            latency.append(row)
            print(json.dumps(row), flush=True)

result = {"environment": {**environment_stamp(DEVICE), "tf32": False, "onnxruntime": ort.__version__, "cuda_provider_options": CUDA_OPTIONS},
          "reference": "torch CUDA fp32 (TF32 off)", "held_out": {"clips": [c.name for c in loader.clips], "seconds": args.seconds},
          "accuracy": rows, "latency": {"batch": 1, "seconds": args.seconds, "warmup": args.warmup, "iterations": args.iterations, "rows": latency}}
write_json_atomic(args.out, result)
print(f"{'component':>15} {'variant':>48} {'p50 ms':>8} {'x eager':>8}")
for r in latency: print(f"{r['component']:>15} {r['variant']:>48} {r.get('p50_ms', float('nan')):8.3f} {r.get('speedup_vs_torch_eager_fp32', float('nan')):8.2f} {r.get('error', '')[:60]}")
