"""Issue 24 on a CUDA GPU: a conversion as a user meets it, through `SingingVoiceConverter.convert_timed`, per PyTorch
variant at 5 s and 30 s: the warm p50 of the whole call (host stages included), the chain alone on the same runners
(`evaluation.suite.time_chain`, the benchmark's number), the first call in the process, and a fresh process's first
conversion (imports, model, runners, first call: what a CLI user waits), with Inductor's on-disk cache as a previous
process left it and with an empty one. The global matmul precision is left at PyTorch's default, as the CLI leaves it
(a parent that changed it would miss the children's Inductor cache entries). On a machine whose site-packages hold no
bytecode (the lent H200 image), set PYTHONPYCACHEPREFIX so a fresh process imports as an installed environment does.

Run from the repo root on a GPU machine:  python tools/gpu_conversion.py --out $OUT/h200_conversion.json
nbs/50_converter.ipynb shows the committed result (nbs/data/h200_conversion.json).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch

from autovoice_trt.audio.synth import synth_singing
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.evaluation.benchmark import benchmark_feeds, environment_stamp
from autovoice_trt.evaluation.suite import time_chain

PRECISION = {"eager fp32": "fp32", "cuda graphs fp16": "fp16", "channels-last fp16": "fp16", "fast fp16": "fp16", "aot fp16": "fp16"}
DEFAULT_VARIANTS = ["eager fp32", "cuda graphs fp16", "channels-last fp16", "fast fp16"]  # "aot fp16": AOTInductor packages did not load on the lent H200 image

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", help="JSON file to write (the parent run)")
parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(PRECISION))
parser.add_argument("--seconds", nargs="+", type=float, default=[5.0, 30.0])
parser.add_argument("--iterations", type=int, default=20)
parser.add_argument("--child", nargs=2, metavar=("VARIANT", "SECONDS"), help="internal: one fresh-process first conversion, printed as JSON")
args = parser.parse_args()
if not torch.cuda.is_available(): sys.exit("no CUDA GPU: this script measures conversions on a GPU")

def clips(seconds:float, rate:int=22050):
    "A held-out singer (named voices are not among the training voices) and another as the target."
    return synth_singing(seconds, rate, voice="alto", seed=20_000).audio, synth_singing(3.0, rate, voice="soprano", seed=20_001).audio

def runners_for(svc, variant:str):
    return svc.runners("torch", PRECISION[variant], device="cuda", torch_variant=variant)

if args.child:
    variant, seconds = args.child[0], float(args.child[1])
    t0 = time.perf_counter()
    svc = SingingVoiceConverter()
    audio, reference = clips(seconds)
    target = svc.speaker_embedding(reference, 22050)
    t1 = time.perf_counter()
    out, timing = svc.convert_timed(audio, 22050, target, pitch_shift=2.0, runners=runners_for(svc, variant))
    torch.cuda.synchronize()
    print(json.dumps({"model_s": round(t1 - t0, 2), "first_conversion_s": round(time.perf_counter() - t1, 2),
                      "model_and_first_conversion_s": round(time.perf_counter() - t0, 2), "samples": len(out)}))
    sys.exit(0)

svc = SingingVoiceConverter()
result = {**environment_stamp("cuda"), "weights": svc.weights, "iterations": args.iterations, "pitch_estimator": svc.config.conversion.pitch_estimator,
          "python_bytecode_cache": os.environ.get("PYTHONPYCACHEPREFIX"), "rows": []}
def save(): Path(args.out).write_text(json.dumps(result, indent=1) + "\n") if args.out else None

def fresh(variant, seconds, cache_dir=None):
    env = dict(os.environ) | ({"TORCHINDUCTOR_CACHE_DIR": cache_dir} if cache_dir else {})
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, __file__, "--child", variant, str(seconds)], capture_output=True, text=True, env=env, timeout=900)
    if run.returncode != 0: return {"error": run.stderr[-1500:]}
    return json.loads(run.stdout.splitlines()[-1]) | {"process_s": round(time.perf_counter() - t0, 2)}

for variant in args.variants:
    for seconds in args.seconds:
        audio, reference = clips(seconds)
        target = svc.speaker_embedding(reference, 22050)
        runners = runners_for(svc, variant)
        t0 = time.perf_counter()
        svc.convert_timed(audio, 22050, target, pitch_shift=2.0, runners=runners); torch.cuda.synchronize()
        first_s = time.perf_counter() - t0
        walls, stages = [], []
        for _ in range(args.iterations):
            t0 = time.perf_counter()
            _, timing = svc.convert_timed(audio, 22050, target, pitch_shift=2.0, runners=runners); torch.cuda.synchronize()
            walls.append(1000 * (time.perf_counter() - t0)); stages.append(timing)
        median = stages[int(np.argsort(walls)[len(walls) // 2])]
        feeds = benchmark_feeds(svc, seconds, 1)
        chain = time_chain(runners, feeds["pipeline"], "cuda", warmup=3, iterations=args.iterations, audio_seconds=seconds)
        row = {"variant": variant, "seconds": seconds, "warm_p50_ms": round(statistics.median(walls), 2),
               "warm_p90_ms": round(float(np.percentile(walls, 90)), 2), "first_call_in_process_s": round(first_s, 2),
               "chain_p50_ms": round(chain.p50_ms, 3), "stages_ms_of_median_call": {k: round(1000 * v, 2) for k, v in median.items() if isinstance(v, float)},
               "chunks": median.get("chunks")}
        row["fresh_process"] = fresh(variant, seconds)  # Inductor's cache as the runs above left it: a user's second CLI call
        with tempfile.TemporaryDirectory() as empty: row["fresh_process_empty_cache"] = fresh(variant, seconds, empty) if "fast" in variant else None
        row["fresh_process_first_conversion_s"] = row["fresh_process"].get("model_and_first_conversion_s")
        result["rows"].append(row); save()
        print(f"{variant:>18} {seconds:5.1f} s: warm p50 {row['warm_p50_ms']:8.2f} ms (chain {row['chain_p50_ms']:7.3f} ms), "
              f"first call {first_s:6.2f} s, fresh process {row['fresh_process_first_conversion_s']} s", flush=True)
    svc.close()  # the converter owns its runners: freed once per variant
save()
