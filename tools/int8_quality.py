"""Issue 15 on the CPU: int8 per component and end to end on held-out clips, before and after (calibration method, Q/DQ
placement), with and without fallback, the graph bytes, and NVIDIA ModelOpt on the same graphs at equal node sets.

    python tools/int8_quality.py --out nbs/data/cpu_int8_quality.json [--weights trained reference] [--samples 16]

ModelOpt rows appear when `modelopt.onnx.quantization` imports (pip install -e ".[modelopt]"); otherwise the JSON says why.
nbs/39_int8_calibrate.ipynb renders the result.
"""
import argparse, json, shutil, sys, tempfile, time
from pathlib import Path



from autovoice_trt.config import COMPONENTS, load_config
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.core import write_json_atomic
from autovoice_trt.evaluation.accuracy import accuracy_rows, held_out_loader, measure_variant
from autovoice_trt.evaluation.benchmark import environment_stamp
from autovoice_trt.graphs.folder import export_components
from autovoice_trt.graphs.int8.cache import QUANT_OPS
from autovoice_trt.graphs.int8.calibrate import calibrate
from autovoice_trt.graphs.int8.data import CalibrationLoader, synthetic_clips
from autovoice_trt.graphs.int8.fallback import cpu_outputs, int8_snr_db, node_weight_bytes, quantizable_groups
from autovoice_trt.graphs.int8.quantize import ALWAYS_FP32

RECIPES = {  # name -> int8_calibration overrides
    "before: entropy 128 bins, outputs quantized": {"method": "entropy", "entropy_bins": 128, "entropy_quantized_bins": 128, "quantize_outputs": True},
    "placement only: entropy 128 bins, inputs and weights": {"method": "entropy", "entropy_bins": 128, "entropy_quantized_bins": 128, "quantize_outputs": False},
    "after: auto (best of entropy 2048, percentile, minmax), inputs and weights": {"method": "auto", "entropy_bins": 2048, "entropy_quantized_bins": 128, "quantize_outputs": False},
}

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", required=True)
parser.add_argument("--weights", nargs="+", default=["trained", "reference"])
parser.add_argument("--samples", type=int, default=16)
parser.add_argument("--seconds", type=float, default=2.0)
parser.add_argument("--held-out", type=int, default=4)
parser.add_argument("--recipes", nargs="+", default=None, help="recipe names' first words (before, placement, after); default: all")
args = parser.parse_args()

t0 = time.perf_counter()
result = {"environment": environment_stamp("cpu"), "script": "tools/int8_quality.py", "samples": args.samples, "seconds": args.seconds,
          "held_out_clips": args.held_out, "recipes": RECIPES, "rows": [], "modelopt": {"rows": [], "notes": []}}
def save(): write_json_atomic(args.out, result | {"seconds_total": round(time.perf_counter() - t0, 1)})
def log(*a): print(f"[{time.perf_counter() - t0:7.1f}s]", *a, flush=True)

after_runs = {}  # weights -> (graph folder, config, converter, held-out loader) of the "after" recipe, for ModelOpt below
work = Path(tempfile.mkdtemp(prefix="int8-quality-"))
for weights in args.weights:
    for recipe, settings in RECIPES.items():
        if args.recipes and recipe.split(":")[0].split()[0] not in args.recipes: continue
        cfg = load_config(overrides={"tensorrt": {"voice_conversion": {"int8_calibration": settings}}})
        svc = SingingVoiceConverter(cfg, weights=weights)
        loader = held_out_loader(svc, clips=args.held_out, seconds=args.seconds)
        reference = svc.torch_runners()
        graph_dir = work/f"{weights}-{recipe.split(':')[0].replace(' ', '_')}"; graph_dir.mkdir()
        export_components(cfg, graph_dir, weights=svc.weights)
        for fallback in (False, True):
            report = calibrate(graph_dir, samples=args.samples, seconds=args.seconds, config=cfg, progress=False, fallback=fallback)
            rows = accuracy_rows({"int8 Q/DQ": measure_variant(svc, loader, graph_dir, "int8 Q/DQ", reference)})
            for r in rows:
                g = report["graphs"].get(r["component"], {})
                row = {"weights": svc.weights, "recipe": recipe, "fallback": fallback, "component": r["component"], "output": r["output"],
                       "snr_db": r["snr_db"], "gate": r["gate"], "method": g.get("method"), "method_snr_db": g.get("method_snr_db"),
                       "fallback_groups": g.get("fallback_groups"), "fallback_nodes": len(g.get("fallback_nodes") or [])}
                if r["component"] in COMPONENTS:  # the files, and the part int8 may touch: the quantizable nodes' weights (the rest, e.g. the front end's bases, stays fp32 by design)
                    fp32_graph, int8_graph = graph_dir/f"{r['component']}.onnx", graph_dir/f"{r['component']}.int8.onnx"
                    weight_bytes = node_weight_bytes(fp32_graph)
                    quantizable = sum(weight_bytes[n] for nodes in quantizable_groups(fp32_graph, r["component"]).values() for n in nodes)
                    row |= {"int8_bytes": int8_graph.stat().st_size, "fp32_bytes": fp32_graph.stat().st_size, "quantizable_fp32_bytes": quantizable,
                            "quantizable_int8_bytes": int8_graph.stat().st_size - (fp32_graph.stat().st_size - quantizable)}
                result["rows"].append(row)
            save(); log(weights, recipe, "fallback" if fallback else "all int8", {(r["component"], r["output"]): round(r["snr_db"], 1) for r in rows})
        if recipe.startswith("after"): after_runs[weights] = (graph_dir, cfg, svc, loader)

# ModelOpt last, on the "after" graphs at their node sets: it patches ONNX Runtime's calibrators in this process (measured here:
# a project calibration after it fails with "Histogram has not been collected")
try:
    import tensorrt
    if not hasattr(tensorrt, "Logger"): sys.modules["tensorrt"] = None  # an empty namespace (the dev install's tensorrt-stubs): ModelOpt would take it for TensorRT
except ImportError: pass
try:
    from modelopt.onnx.quantization import quantize as modelopt_quantize
    import modelopt
    result["modelopt"]["version"] = modelopt.__version__
except ImportError as e:
    result["modelopt"]["notes"].append(f"not installed here: {e}"); after_runs = {}
for weights, (graph_dir, cfg, svc, loader) in after_runs.items():
    clips, fingerprint = synthetic_clips(args.samples, args.seconds, cfg.tensorrt.voice_conversion.int8_calibration.seed, cfg.model.output_sample_rate_hz)
    calibration = CalibrationLoader(svc, clips, fingerprint, progress=False)
    for c in COMPONENTS:
        fallback_nodes = json.loads((graph_dir/f"{c}.int8.fallback.json").read_text())["nodes"]
        feeds = loader.component(c)
        references = cpu_outputs(graph_dir/f"{c}.onnx", feeds)
        result["modelopt"]["rows"].append({"weights": svc.weights, "component": c, "calibration": "project (after)", "nodes": "project's node set",
                                           "excluded_nodes": len(fallback_nodes) + len(ALWAYS_FP32.get(c, ())), "snr_db": int8_snr_db(graph_dir/f"{c}.int8.onnx", feeds, references),
                                           "bytes": (graph_dir/f"{c}.int8.onnx").stat().st_size})
        for mo_method in ("entropy", "max"):
            for excluded_label, excluded in (("ModelOpt defaults", []), ("project's node set", sorted(set(fallback_nodes) | set(ALWAYS_FP32.get(c, ()))))):
                mo_dir = work/f"mo_{weights}_{c}"; shutil.rmtree(mo_dir, ignore_errors=True); mo_dir.mkdir()
                source = mo_dir/f"{c}.onnx"; shutil.copy(graph_dir/f"{c}.onnx", source)  # ModelOpt rewrites its input (shape inference): a copy
                out = mo_dir/f"{c}.modelopt.onnx"
                try:
                    modelopt_quantize(str(source), quantize_mode="int8", calibration_data_reader=calibration.reader(c), calibration_method=mo_method,
                                      calibration_eps=["cpu"], op_types_to_quantize=list(QUANT_OPS), nodes_to_exclude=excluded or None,
                                      high_precision_dtype="fp32", output_path=str(out), log_level="ERROR")
                    snr = int8_snr_db(out, feeds, references)
                    result["modelopt"]["rows"].append({"weights": svc.weights, "component": c, "calibration": mo_method, "nodes": excluded_label,
                                                       "excluded_nodes": len(excluded), "snr_db": snr, "bytes": out.stat().st_size})
                    log("modelopt", weights, c, mo_method, excluded_label, round(snr, 1))
                except Exception as e:  # a row naming why ModelOpt could not quantize it
                    result["modelopt"]["notes"].append(f"{svc.weights} {c} {mo_method} {excluded_label}: {type(e).__name__}: {str(e)[:300]}")
                    log("modelopt FAILED", c, mo_method, e)
                save()
shutil.rmtree(work, ignore_errors=True)
save(); log("done")
