"""Issue 13 probe (exploration, H200): which levers make the PyTorch fp16 path faster, before the runner was written.

Its output is nbs/data/h200_speed_probe.json (merged from the two parts). The channels-last wrapper it first carried is
now `backends.pytorch.ChannelsLastConv1d`, imported here; the grouped-resblock rewrite it tried (and dropped) stays here only.

python tools/gpu_speed_probe.py --part eager --out $OUT/probe_eager.json
python tools/gpu_speed_probe.py --part compile --out $OUT/probe_compile.json
"""
import argparse, copy, json, time
from pathlib import Path

import torch, torch.nn as nn, torch.nn.functional as F

from autovoice_trt.backends.pytorch import FP32_MODULES, _fp32_island, channels_last_convs_ as nhwc_  # the probe's own NHWC wrapper became ChannelsLastConv1d (same arithmetic)
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.evaluation.benchmark import (ModelPipeline, benchmark_feeds, environment_stamp, spin_up_gpu, time_calls)
from autovoice_trt.config import COMPONENTS

p = argparse.ArgumentParser(); p.add_argument("--part", required=True); p.add_argument("--out", required=True)
args = p.parse_args()
torch.backends.cuda.matmul.allow_tf32 = False; torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")
result = {"environment": environment_stamp("cuda"), "part": args.part, "rows": [], "notes": []}
t_start = time.perf_counter()
def log(*a): print(f"[{time.perf_counter() - t_start:6.1f}s]", *a, flush=True)
def save(): Path(args.out).write_text(json.dumps(result, indent=1, default=str))

# ---------------------------------------------------------------- transforms
class GroupedStage(nn.Module):
    "The vocoder's parallel resblocks of one stage as stacked / grouped convolutions (kernels zero-padded to the largest)."
    def __init__(self, blocks, slope):
        super().__init__()
        self.n, self.slope = len(blocks), slope
        C = blocks[0].dilated[0].in_channels; K = max(b.dilated[0].kernel_size[0] for b in blocks)
        dil = [c.dilation[0] for c in blocks[0].dilated]
        assert all([c.dilation[0] for c in b.dilated] == dil for b in blocks)
        def stack(convs, d, first):
            w = torch.cat([F.pad(c.weight, ((K - c.kernel_size[0]) // 2,) * 2) for c in convs])
            conv = nn.Conv1d(C if first else C * self.n, C * self.n, K, dilation=d, padding=d * (K - 1) // 2, groups=1 if first else self.n)
            with torch.no_grad(): conv.weight.copy_(w); conv.bias.copy_(torch.cat([c.bias for c in convs]))
            return conv.to(w.device, w.dtype)
        self.dilated = nn.ModuleList(stack([b.dilated[j] for b in blocks], d, j == 0) for j, d in enumerate(dil))
        self.undilated = nn.ModuleList(stack([b.undilated[j] for b in blocks], 1, False) for j in range(len(dil)))
    def forward(self, x):
        B, C, T = x.shape
        h = x.repeat(1, self.n, 1)
        for j, (dc, uc) in enumerate(zip(self.dilated, self.undilated)):
            a = dc(F.leaky_relu(x if j == 0 else h, self.slope))
            h = h + uc(F.leaky_relu(a, self.slope))
        return h.view(B, self.n, C, T).sum(1) / self.n

class GroupedVocoder(nn.Module):
    def __init__(self, voc):
        super().__init__()
        self.conv_pre, self.ups, self.conv_post, self.slope = voc.conv_pre, voc.ups, voc.conv_post, voc.lrelu_slope
        n = voc.blocks_per_stage
        self.stages = nn.ModuleList(GroupedStage(list(voc.resblocks[i * n:(i + 1) * n]), voc.lrelu_slope) for i in range(len(voc.ups)))
    def forward(self, mel_input):
        x = self.conv_pre(mel_input)
        for up, stage in zip(self.ups, self.stages): x = stage(up(F.leaky_relu(x, self.slope)))
        return torch.tanh(self.conv_post(F.leaky_relu(x, self.slope)))

def islands_(module, islands, half=True):
    "Weights fp16 except the islands (fp32, autocast off inside)."
    if half: module.half()
    for name in islands:
        sub = module.get_submodule(name).float()
        for method in ("forward", "inverse"):
            if hasattr(sub, method): setattr(sub, method, _fp32_island(getattr(sub, method)))
    return module

def make(component, module, *, half=True, nhwc=False, grouped=False, compile=False, mode="default"):
    m = copy.deepcopy(module).to(dev).eval()
    islands = FP32_MODULES.get(component, ())
    if grouped:
        m = GroupedVocoder(m).to(dev).eval()
    if half: islands_(m, islands)
    if nhwc: nhwc_(m, skip=islands)
    fwd = torch.compile(m, dynamic=False, mode=mode) if compile else m
    return fwd

def graphed(fn, inputs, autocast=True):
    "Capture fn(*inputs) under autocast fp16 (cache off) as a CUDA graph; return a replay callable."
    static = [t.clone() for t in inputs]
    ctx = lambda: torch.autocast("cuda", torch.float16, enabled=autocast, cache_enabled=False)
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s), torch.inference_mode(), ctx():
        for _ in range(3): fn(*static)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g), torch.inference_mode(), ctx(): out = fn(*static)
    def replay():
        g.replay(); return out
    return replay

def snr(ref, out):
    ref, out = ref.float(), out.float()
    return float(10 * torch.log10(ref.pow(2).mean() / (ref - out).pow(2).mean().clamp_min(1e-30)))

# ---------------------------------------------------------------- setup
svc = SingingVoiceConverter()
modules = svc.export_modules()
log("weights", svc.weights)
feeds = {b: benchmark_feeds(svc, 5.0, b) for b in (1, 4, 16)}
log("feeds ready")
def args_of(component, feed): return [feed[s.name].to(dev) for s in svc.contracts[component].inputs]
spin_up_gpu(2)

def time_it(label, component, batch, fn, ref=None, iters=50):
    st = time_calls(fn, "cuda", warmup=10, iterations=iters, audio_seconds=5.0 * batch)
    out = fn()
    out = out[0] if isinstance(out, tuple) else out
    row = {"label": label, "component": component, "batch": batch, "p50_ms": st.p50_ms, "p90_ms": st.p90_ms, "mean_ms": st.mean_ms,
           "snr_db_vs_fp32": snr(ref, out) if ref is not None else None}
    result["rows"].append(row); save()
    log(f"{label:>34} {component:>15} b{batch:<2} p50 {st.p50_ms:8.3f} ms" + (f"  snr {row['snr_db_vs_fp32']:.1f} dB" if ref is not None else ""))
    return row

if args.part == "ceilings":
    pass

if args.part == "eager":
    # ceilings in the same run
    x = torch.empty(2**30 // 2, dtype=torch.float16, device=dev); y = torch.empty_like(x)
    st = time_calls(lambda: y.copy_(x), "cuda", 5, 20)
    result["copy_bandwidth_TBps"] = 2 * x.numel() * 2 / (st.p50_ms / 1e3) / 1e12
    for dt, name in ((torch.float16, "fp16"), (torch.float32, "fp32")):
        a = torch.randn(8192, 8192, device=dev, dtype=dt); b = torch.randn(8192, 8192, device=dev, dtype=dt)
        st = time_calls(lambda: a @ b, "cuda", 3, 10)
        result[f"matmul_{name}_TFLOPs"] = 2 * 8192**3 / (st.p50_ms / 1e3) / 1e12
    del x, y, a, b; torch.cuda.empty_cache()
    log("ceilings", {k: v for k, v in result.items() if k.endswith(("TBps", "TFLOPs"))})
    for component in COMPONENTS:
        for batch in (1, 4, 16):
            inp = args_of(component, feeds[batch][component])
            ref_m = copy.deepcopy(modules[component]).to(dev).eval()
            with torch.inference_mode(): ref = ref_m(*inp); ref = ref[0] if isinstance(ref, tuple) else ref
            time_it("eager fp32", component, batch, lambda: ref_m(*inp), None)
            time_it("graph fp32", component, batch, graphed(ref_m, inp, autocast=False), ref)
            auto = islands_(copy.deepcopy(modules[component]).to(dev).eval(), FP32_MODULES.get(component, ()), half=False)
            time_it("graph autocast fp16 (current)", component, batch, graphed(auto, inp), ref)
            time_it("graph half+islands", component, batch, graphed(make(component, modules[component]), inp), ref)
            time_it("graph half+islands nhwc", component, batch, graphed(make(component, modules[component], nhwc=True), inp), ref)
            if component == "vocoder":
                time_it("graph half+islands grouped", component, batch, graphed(make(component, modules[component], grouped=True), inp), ref)
                time_it("graph half+islands grouped nhwc", component, batch, graphed(make(component, modules[component], grouped=True, nhwc=True), inp), ref)
                torch.backends.cudnn.benchmark = True
                time_it("graph half+islands nhwc bench", component, batch, graphed(make(component, modules[component], nhwc=True), inp), ref)
                time_it("graph half+islands grouped nhwc bench", component, batch, graphed(make(component, modules[component], grouped=True, nhwc=True), inp), ref)
                torch.backends.cudnn.benchmark = False
            del ref_m, auto; torch.cuda.empty_cache()
    # kernel breakdown: eager half+islands vocoder b4, nchw and nhwc
    from torch.profiler import profile, ProfilerActivity
    for label, kw in (("half+islands", {}), ("half+islands nhwc", {"nhwc": True}), ("grouped nhwc", {"nhwc": True, "grouped": True})):
        m = make("vocoder", modules["vocoder"], **kw); inp = args_of("vocoder", feeds[4]["vocoder"])
        with torch.inference_mode(), torch.autocast("cuda", torch.float16):
            for _ in range(3): m(*inp)
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(5): m(*inp)
                torch.cuda.synchronize()
        ev = [e for e in prof.key_averages() if e.device_type.name == "CUDA"]
        ev.sort(key=lambda e: -e.device_time_total)
        total = sum(e.device_time_total for e in ev)
        result.setdefault("kernels", {})[label] = {"total_us_per_call": total / 5, "kernels_per_call": sum(e.count for e in ev) / 5,
            "top": [{"name": e.key[:120], "us_per_call": e.device_time_total / 5, "count_per_call": e.count / 5} for e in ev[:15]]}
        save(); log(label, "kernels/call", sum(e.count for e in ev) / 5, "us/call", total / 5)
    # the whole chain as one graph
    for batch in (1, 4, 16):
        pf = feeds[batch]["pipeline"]; names = ["input_audio", "f0_input", "voiced_mask", "speaker", "latent_input", "mask"]
        inp = [pf[n].to(dev) for n in names]
        base = ModelPipeline({k: copy.deepcopy(v) for k, v in modules.items()}, svc.contracts).to(dev).eval()
        with torch.inference_mode(): ref = base(*inp)
        time_it("eager fp32", "pipeline", batch, lambda: base(*inp))
        for label, kw in (("graph half+islands", {}), ("graph half+islands nhwc", {"nhwc": True}), ("graph half+islands grouped nhwc", {"nhwc": True, "grouped": True})):
            parts = {c: make(c, modules[c], **({k: v for k, v in kw.items() if c == "vocoder" or k != "grouped"})) for c in COMPONENTS}
            pipe = ModelPipeline(parts, svc.contracts)
            fn = graphed(lambda *a: pipe(*a), inp)
            time_it(label, "pipeline", batch, fn, ref)
        del base; torch.cuda.empty_cache()

if args.part == "compile":
    import torch._dynamo
    from torch._dynamo.utils import counters
    torch._dynamo.config.cache_size_limit = 64
    # 1. why the project's compile variant lost: the same runner construction benchmark_torch uses, batch 1 then 4
    from autovoice_trt.evaluation.benchmark import benchmark_torch
    torch._dynamo.reset(); counters.clear()

    torch._logging.set_logs(recompiles=True)
    rows = benchmark_torch(svc, "cuda", ["eager fp32", "compile fp16"], (1, 4), 5.0, ("vocoder",), 10, 30, log=log)
    result["project_compile_rows"] = rows
    result["project_compile_counters"] = {k: dict(v) for k, v in counters.items() if k in ("stats", "recompiles", "graph_break", "frames")}
    save(); log("counters", result["project_compile_counters"])
    torch._logging.set_logs(recompiles=False)
    for component in ("vocoder",):
        for batch in (1, 4):
            inp = args_of(component, feeds[batch][component])
            ref_m = copy.deepcopy(modules[component]).to(dev).eval()
            with torch.inference_mode(): ref = ref_m(*inp)
            for label, kw in (("compile graph half+islands", {}), ("compile graph half+islands nhwc", {"nhwc": True}),
                              ("compile graph grouped nhwc", {"nhwc": True, "grouped": True}),
                              ("compile-mat graph half+islands", {"mode": "max-autotune-no-cudagraphs"})):
                t0 = time.perf_counter(); torch._dynamo.reset()
                try:
                    fn = graphed(make(component, modules[component], compile=True, **kw), inp)
                    row = time_it(label, component, batch, fn, ref); row["compile_s"] = time.perf_counter() - t0; save()
                except Exception as e:
                    result["notes"].append(f"{label} b{batch}: {type(e).__name__}: {str(e)[:300]}"); save(); log("FAILED", label, e)
    for batch in (1, 4):
        pf = feeds[batch]["pipeline"]; names = ["input_audio", "f0_input", "voiced_mask", "speaker", "latent_input", "mask"]
        inp = [pf[n].to(dev) for n in names]
        base = ModelPipeline({k: copy.deepcopy(v) for k, v in modules.items()}, svc.contracts).to(dev).eval()
        with torch.inference_mode(): ref = base(*inp)
        for label, kw in (("compile graph half+islands", {}), ("compile graph half+islands nhwc", {"nhwc": True})):
            t0 = time.perf_counter(); torch._dynamo.reset()
            try:
                parts = {c: make(c, modules[c], compile=True, **kw) for c in COMPONENTS}
                pipe = ModelPipeline(parts, svc.contracts)
                fn = graphed(lambda *a: pipe(*a), inp)
                row = time_it(label, "pipeline", batch, fn, ref); row["compile_s"] = time.perf_counter() - t0; save()
            except Exception as e:
                result["notes"].append(f"pipeline {label} b{batch}: {type(e).__name__}: {str(e)[:300]}"); save(); log("FAILED", label, e)
result["seconds"] = time.perf_counter() - t_start
save(); log("done")
