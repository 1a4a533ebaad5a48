"""Measure the PyTorch runner variants on a CUDA GPU (per component and end to end) and write a JSON result.

Run on a GPU machine from the repo root:  python tools/gpu_benchmark.py --out nbs/data/torch_cuda_benchmark.json
The notebook nbs/60_benchmark.ipynb reads the committed result and draws it.
"""
import argparse, json, sys
from pathlib import Path

import torch

from autovoice_trt.backends.pytorch import TORCH_VARIANTS
from autovoice_trt.evaluation.benchmark import benchmark_torch, environment_stamp, speedup_table
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.core import write_json_atomic

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", required=True, help="JSON file to write")
parser.add_argument("--variants", nargs="+", default=list(TORCH_VARIANTS), choices=list(TORCH_VARIANTS))
parser.add_argument("--batches", nargs="+", type=int, default=[1, 4])
parser.add_argument("--seconds", type=float, default=5.0)
parser.add_argument("--iterations", type=int, default=50)
args = parser.parse_args()

if not torch.cuda.is_available(): sys.exit("no CUDA GPU: this script measures GPU latency")
torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 (TF32 would be a different precision)
torch.backends.cudnn.allow_tf32 = False
rows = benchmark_torch(SingingVoiceConverter(), device="cuda", variants=args.variants,
                       batches=tuple(args.batches), seconds=args.seconds, iterations=args.iterations)
result = {"environment": {**environment_stamp("cuda"), "tf32": False}, "seconds": args.seconds, "rows": rows}
write_json_atomic(args.out, result)
for row in speedup_table(rows): print(json.dumps(row))
