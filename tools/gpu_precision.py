"""Measure fp16 accuracy on a CUDA GPU against PyTorch CUDA fp32, per component and end to end, on held-out singing.

Run on a GPU machine from the repo root:  python tools/gpu_precision.py --out nbs/data/gpu_precision.json
The notebook nbs/55_accuracy.ipynb shows the committed result beside the CPU numbers it measures itself.
Same held-out data and comparator as the notebook (`held_out_loader`, `measure_variant`, `accuracy_rows`); only the
runners differ: PyTorch on CUDA, fp32 reference with TF32 off.
"""
import argparse, copy, json, sys

import torch

from autovoice_trt.evaluation.accuracy import accuracy_rows, held_out_loader, measure_variant
from autovoice_trt.evaluation.benchmark import environment_stamp
from autovoice_trt.config import COMPONENTS
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.core import write_json_atomic
from autovoice_trt.backends.pytorch import AutocastRunner
from autovoice_trt.backends.pytorch import TorchRunner

GPU_VARIANTS = {  # name -> (precision, gated, backend): the gate is SPEC s.4's fp16 gate in every case; "gated" marks the
    # variants that compute what the fp16 graph computes (fp32 islands kept), as the CPU notebook does
    "fp16 autocast cuda": ("fp16", True, "torch CUDA autocast fp16 (fp32 islands as the fp16 graph)"),
    "fp16 autocast cuda graphs": ("fp16", True, "torch CUDA autocast fp16 replayed as CUDA graphs"),
    "fp16 half cuda": ("fp16", False, "torch CUDA .half() (whole module fp16)"),
}

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", required=True, help="JSON file to write")
parser.add_argument("--clips", type=int, default=4, help="held-out synthetic clips")
parser.add_argument("--seconds", type=float, default=5.0, help="length of each clip")
args = parser.parse_args()

if not torch.cuda.is_available(): sys.exit("no CUDA GPU: this script measures GPU fp16 accuracy")
torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
torch.backends.cudnn.allow_tf32 = False
svc = SingingVoiceConverter()
rate = svc.config.model.content_sample_rate_hz
loader = held_out_loader(svc, clips=args.clips, seconds=args.seconds)

def runners(kind):
    modules = copy.deepcopy(svc.export_modules())  # .half() and the fp32 islands change modules in place
    if kind == "fp32": return {c: TorchRunner(modules[c], svc.contracts[c], device="cuda") for c in COMPONENTS}
    if kind == "fp16 half cuda": return {c: TorchRunner(modules[c], svc.contracts[c], device="cuda", precision="fp16") for c in COMPONENTS}
    graphs = kind.endswith("graphs")
    return {c: AutocastRunner(modules[c], svc.contracts[c], device="cuda", cuda_graphs=graphs) for c in COMPONENTS}

reference = runners("fp32")
records = {v: measure_variant(svc, loader, None, v, reference, candidate=runners(v)) for v in GPU_VARIANTS}
rows = accuracy_rows(records, GPU_VARIANTS)
result = {"environment": {**environment_stamp("cuda"), "tf32": False}, "reference": "torch CUDA fp32 (TF32 off)",
          "held_out": {"clips": [c.name for c in loader.clips], "seconds": args.seconds}, "rows": rows}
write_json_atomic(args.out, result)
for row in rows: print(json.dumps({k: row.get(k) for k in ("component", "output", "variant", "snr_db", "max_abs", "gate_pass", "seed_pass", "error")}))
