"""The architecture as a user and a maintainer meet it: the seed's API from one import in a fresh interpreter, one
orchestration (the calibration loader and the benchmark see exactly what a conversion hands its runners), layers that
point one way, every config key read, and modules of one job."""
import ast, re, subprocess, sys, textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

PACKAGE = Path(__file__).resolve().parents[1]/"autovoice_trt"
README = PACKAGE.parent/"README.md"

def _modules()->list[str]:
    "Every module of the package (dotted, under autovoice_trt), package __init__ files and the nbdev index left out."
    return sorted(".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "_modidx.py"))

def readme_layers(text:str)->list[list[str]]:
    "The README's layout table, lowest row first: per row, the backticked names in its modules column that are modules or packages of ours."
    lines = text[text.index("| layer | modules | notebooks |"):].splitlines()[2:]  # after the header and its rule
    rows = [line.split("|") for line in lines[: next((i for i, line in enumerate(lines) if not line.startswith("|")), len(lines))]]
    real = lambda name: (PACKAGE/(name.replace(".", "/") + ".py")).is_file() or (PACKAGE/name.replace(".", "/")/"__init__.py").is_file()
    return [[n for n in re.findall(r"`([a-z_][a-z0-9_.]*)`", row[2]) if real(n)] for row in rows]

LAYERS = readme_layers(README.read_text())

def _layer(module:str)->int:
    "The row of the README's table that holds `module` (the longest name that is it or a package above it)."
    found = [(len(name), i) for i, row in enumerate(LAYERS) for name in row if module == name or module.startswith(name + ".")]
    assert found, f"{module}: in no row of README's layout table"
    return max(found)[1]

def test_readme_layer_table_places_every_module_once():
    assert len(LAYERS) >= 10 and all(LAYERS), LAYERS
    names = [n for row in LAYERS for n in row]
    assert len(names) == len(set(names)), f"named twice: {sorted(n for n in names if names.count(n) > 1)}"
    assert [m for m in _modules() if not any(m == n or m.startswith(n + ".") for n in names)] == []
    assert _layer("graphs.int8.calibrate") > _layer("backends.tensorrt_build") > _layer("pipeline") > _layer("models.flow") > _layer("graphs.export")

def test_readme_table_parser_catches_a_missing_module():
    "The check above can fail: a table without the runtime row leaves `runtime` unplaced."
    text = README.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| runtime |"))
    without = readme_layers(text.replace(row + "\n", ""))
    assert not any("runtime" in r for r in without) and len(without) == len(LAYERS) - 1

def test_seed_sequence_from_one_import(tmp_path):
    code = textwrap.dedent(f"""
        import numpy as np
        from autovoice_trt import SingingVoiceConverter
        from autovoice_trt.core import AutovoiceError, HAS_CUDA, HAS_TRT_RTX
        from autovoice_trt.models.encoders import ContentEncoder
        svc = SingingVoiceConverter()
        assert hasattr(ContentEncoder, "export_to_onnx") and hasattr(svc.vocoder, "export_to_onnx")
        manifest = svc.export_components_to_onnx({str(tmp_path/'new'/'onnx')!r})
        assert len(manifest["graphs"]) == 5, manifest
        if HAS_TRT_RTX:
            engines = svc.create_tensorrt_engines({str(tmp_path/'new'/'onnx')!r}, {str(tmp_path/'engines')!r}, fp16=True)
            assert sorted(engines["builds"]["fp16"]["engines"]) == sorted(manifest["graphs"]), engines
        try: svc.convert_with_tensorrt(np.zeros(22050, np.float32), np.ones(256, np.float32) / 16)
        except AutovoiceError as e: assert "call load_tensorrt_engines(engine_dir) first" in str(e)
        try:
            svc.load_tensorrt_engines({str(tmp_path/'engines')!r})
            out, timing = svc.convert_with_tensorrt(np.sin(np.arange(22050) / 20).astype(np.float32), np.ones(256, np.float32) / 16)
            assert timing["total"] > 0 and len(out) == 22050
        except AutovoiceError as e:
            assert not HAS_CUDA and "needs a CUDA GPU" in str(e), e
        print("seed sequence ok")
    """)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "seed sequence ok" in run.stdout, run.stderr[-3000:]

def test_package_import_is_cheap_and_gives_the_converter(tmp_path):
    "`import autovoice_trt` loads no torch and no converter; `from autovoice_trt import SingingVoiceConverter` does, in a fresh interpreter."
    code = textwrap.dedent("""
        import sys, autovoice_trt
        assert not {"torch", "autovoice_trt.converter"} & set(sys.modules), sorted(m for m in sys.modules if m.startswith(("torch", "autovoice")))
        from autovoice_trt import SingingVoiceConverter
        from autovoice_trt.converter import SingingVoiceConverter as defined
        assert SingingVoiceConverter is defined
        try: autovoice_trt.NoSuchThing
        except AttributeError as e: assert "no attribute 'NoSuchThing'" in str(e)
        print("import ok")
    """)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "import ok" in run.stdout, run.stderr[-3000:]

class RecordingRunner:
    "Wraps a real runner and keeps every feed it is handed (a test double for the recording only)."
    def __init__(self, runner): self.runner, self.feeds, self.profile, self.is_active = runner, [], runner.profile, True
    def activate(self): return self
    def deactivate(self): pass
    def __call__(self, feed):
        self.feeds.append({k: torch.as_tensor(v).clone() for k, v in feed.items()})
        return self.runner(feed)

def test_conversion_calibration_and_benchmark_see_the_same_tensors():
    from autovoice_trt.audio.synth import synth_singing
    from autovoice_trt.converter import SingingVoiceConverter
    from autovoice_trt.config import COMPONENTS
    from autovoice_trt.graphs.int8.data import CalibrationClip, CalibrationLoader
    from autovoice_trt.evaluation.benchmark import benchmark_feeds
    svc = SingingVoiceConverter()
    rate = svc.config.model.output_sample_rate_hz
    clip = synth_singing(1.0, rate, voice="tenor", seed=0)  # benchmark_feeds' first clip (voice tenor, seed 0)
    target = svc.speaker_embedding(synth_singing(2.0, rate, voice="soprano", seed=10_000).audio, rate)  # its default speaker
    recording = {c: RecordingRunner(r) for c, r in svc.torch_runners().items()}
    svc.convert(clip.audio, rate, target, runners=recording, seed=0)
    converted = {c: recording[c].feeds[0] for c in COMPONENTS}
    loader = CalibrationLoader(svc, [CalibrationClip("tenor 0", clip.audio, rate, seed=0)], {"kind": "test"}, progress=False)
    calibration = {c: loader.feeds[0][c] for c in COMPONENTS}
    # the loader takes each clip's own voice as the target; with the same target the feeds are the same
    from autovoice_trt.graphs.int8.data import component_feeds
    calibration = component_feeds(svc, CalibrationClip("tenor 0", clip.audio, rate, seed=0), speaker=target)
    bench = benchmark_feeds(svc, seconds=1.0, batch=1, seed=0)
    for c in COMPONENTS:
        for name, value in converted[c].items():
            assert torch.equal(value.float(), calibration[c][name].float()), (c, name, "calibration")
            assert torch.equal(value.float(), bench[c][name].float()), (c, name, "benchmark")

def _leaf_keys(data, prefix=()):
    for k, v in data.items():
        if isinstance(v, dict) and not {"min", "opt", "max"} <= set(v): yield from _leaf_keys(v, prefix + (k,))
        else: yield prefix + (k,)

def test_every_config_key_is_read():
    config = yaml.safe_load((PACKAGE/"default_config.yaml").read_text())
    sources = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py") if p.name not in ("config.py", "_modidx.py"))
    profiles = set(config["tensorrt"]["voice_conversion"]) - {"precision", "flavour", "builder_optimization_level", "workspace_mb",
                                                               "timing_cache", "strict_types", "int8_calibration"}
    unread = []
    for key in _leaf_keys(config):
        if len(key) >= 3 and key[2] in profiles: continue  # profiles: read whole, by `VoiceConversionTRTConfig.profile(component)`
        if f".{key[-1]}" not in sources: unread.append(".".join(key))
    assert unread == [], f"config keys nothing reads: {unread}"

def _imported(module:str, node:ast.ImportFrom)->list[str]:
    "The package modules an import names, relative to the package root ('' = none of ours)."
    if node.level:
        parts = module.split(".")[: len(module.split(".")) - node.level]
        base = ".".join(parts + ([node.module] if node.module else []))
    elif node.module == "autovoice_trt" or (node.module or "").startswith("autovoice_trt."): base = node.module.removeprefix("autovoice_trt").lstrip(".")
    else: return []
    return [f"{base}.{a.name}".lstrip(".") if not base or base in ("models", "graphs", "graphs.int8", "backends", "evaluation", "audio") else base for a in node.names]

def test_layers_point_one_way():
    "No import points down README's layer table (to a later row)."
    upward = []
    for module in _modules():
        path = PACKAGE/(module.replace(".", "/") + ".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                upward += [f"{module} imports {name}" for name in _imported(module, node) if _layer(name) > _layer(module)]
    assert upward == [], upward
