"""The engine wrapper's GPU side, on a GPU box with or without TensorRT.

    python tools/gpu_engines.py --engine-dir ENGINES [--onnx-dir ONNX] [--out nbs/data/gpu_engines.json]

ENGINES is a folder written by `autovoice-trt build` (or `build_engines`), e.g. the TensorRT-RTX fp32 engines CI builds.
On every GPU it checks, per engine, that the metadata-level checks accept a feed of CUDA tensors on the engine's device
(cast on the device) and refuse the same feed on the host; then it tries to load the engine with whichever TensorRT
runtime is installed and records what happened: a clear refusal when none is installed, or when TensorRT-RTX engines
meet a GPU they were not built for (RTX engines do not run on Hopper), else a real run of each engine compared with
ONNX Runtime on the same feed (when --onnx-dir is given) and its latency. Everything measured goes to --out as JSON,
with the date and the device.
"""
import argparse, json, platform, time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from autovoice_trt import core
from autovoice_trt.config import COMPONENTS, load_config
from autovoice_trt.core import AutovoiceError
from autovoice_trt.backends.tensorrt import EngineSignature, TensorRTEngine


def example_feed(signature, rng, frames=200):
    "A feed at the profile's opt batch and `frames` frames (content audio: the matching 16 kHz samples)."
    feed = {}
    for spec in signature.inputs:
        rng_shape = signature.profile[spec.name]
        shape = [rng_shape.opt[0]] + [d if d > 0 else (int(frames * 16000 / 86.13) if spec.name == "input_audio" else frames) for d in spec.dims[1:]]
        if spec.dtype == "bool": feed[spec.name] = rng.random(shape) > 0.2
        elif spec.name == "f0_input": feed[spec.name] = rng.uniform(80, 800, shape).astype(np.float32)
        elif spec.name == "mask": feed[spec.name] = np.ones(shape, np.float32)
        else: feed[spec.name] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
    return feed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine-dir", required=True)
    parser.add_argument("--onnx-dir", default=None)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", default="nbs/data/gpu_engines.json")
    args = parser.parse_args()
    assert torch.cuda.is_available(), "this script needs a CUDA GPU"
    device = torch.device("cuda", torch.cuda.current_device())
    rng = np.random.default_rng(0)
    report = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "device": torch.cuda.get_device_name(device),
              "compute_capability": ".".join(map(str, torch.cuda.get_device_capability(device))), "torch": torch.__version__,
              "cuda": torch.version.cuda, "host": platform.node(),
              "runtimes": {n: getattr(m, "__version__", None) for n, m in (("tensorrt", core.trt), ("tensorrt_rtx", core.trt_rtx), ("tensorrt_lean", core.trt_lean))},
              "engines": {}}
    for component in COMPONENTS:
        path = Path(args.engine_dir)/f"{component}.{args.precision}.engine"
        entry = report["engines"][component] = {"file": path.name}
        signature = EngineSignature.from_file(path, args.precision)
        feed = example_feed(signature, rng)
        on_gpu = signature.check({n: torch.from_numpy(v).to(device) for n, v in feed.items()}, device)
        entry["gpu_feed_accepted"] = {n: [str(v.device), str(v.dtype).removeprefix("torch."), list(v.shape)] for n, v in on_gpu.items()}
        try: signature.check({n: torch.from_numpy(v) for n, v in feed.items()}, device); entry["host_feed_refused"] = False
        except AutovoiceError as e: entry["host_feed_refused"] = str(e)
        try:
            engine = TensorRTEngine(path, precision=args.precision, device=device)
        except AutovoiceError as e:
            entry["load"] = f"refused: {e}"
            continue
        with engine:
            entry["load"] = f"loaded on {engine.flavour} {engine.version}"
            outputs = engine.infer(feed)
            entry["outputs"] = {n: list(v.shape) for n, v in outputs.items()}
            if args.onnx_dir:
                from autovoice_trt.backends.onnxruntime import onnxruntime_runners
                from autovoice_trt.evaluation.compare import output_metrics
                reference = onnxruntime_runners(args.onnx_dir, load_config())[component](feed)
                entry["vs_onnxruntime_cpu"] = {n: output_metrics(n, reference[n], outputs[n]).row() for n in outputs}
            gpu_feed = {n: torch.from_numpy(v).to(device) for n, v in feed.items()}
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            times = []
            for _ in range(args.repeats):
                start.record(); engine.infer_torch(gpu_feed); stop.record(); stop.synchronize()
                times.append(start.elapsed_time(stop))
            entry["latency_ms_p50"] = float(np.median(times[5:] or times))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
