"""Proof, without a TensorRT GPU, that the engine wrapper and the builder use TensorRT's API as it is.

1. Every attribute the code uses on a TensorRT object (found by reading the modules' syntax trees, not from a list of
   attributes) exists in `tensorrt_lean` 11.4 and `tensorrt_rtx` (run time) or in `tensorrt_rtx` (build time).
   Attributes inside the TensorRT 10 only functions (`_tensorrt10_*`) must exist in the TensorRT 10 stubs instead.
2. The TensorRT 10 path type-checks with mypy against `tensorrt-stubs` 10.13, and mypy with those stubs does catch a
   removed API (negative control).
3. APIs removed in TensorRT 10 (bindings, `execute_async_v2`, ...) appear nowhere in the package.
"""
import ast, re, shutil, subprocess, sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]/"autovoice_trt"
ENGINE, BUILD, CALIBRATION = PACKAGE/"backends"/"tensorrt.py", PACKAGE/"backends"/"tensorrt_build.py", PACKAGE/"backends"/"tensorrt10_calibrator.py"

# How the code names TensorRT objects: a root (variable or attribute) -> the TensorRT class it holds (None = the module).
RUNTIME_ROOTS = {"module": None, "self.module": None, "flavour": None, "runtime": "Runtime", "self._runtime": "Runtime",
                 "engine": "ICudaEngine", "self._engine": "ICudaEngine", "context": "IExecutionContext", "self._context": "IExecutionContext",
                 "dims": "Dims"}
BUILD_ROOTS = {"flavour": None, "builder": "Builder", "network": "INetworkDefinition", "parser": "OnnxParser",
               "parser_error": "ParserError", "builder_config": "IBuilderConfig", "optimization_profile": "IOptimizationProfile",
               "serialized": "IHostMemory", "t": "ITensor", "builder_flag": "BuilderFlag"}
RUNTIME_FUNCTIONS_OF_BUILD = {"capturing_logger"}  # builder-module code the runtime also uses


def dotted(node):
    "`a.b.c` for a chain of attributes on a name, else None."
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr); node = node.value
    if isinstance(node, ast.Name): return ".".join([node.id] + parts[::-1])
    return None


def tensorrt_uses(path, roots, only=None):
    "(function, root, class, [attribute chain], line) for every attribute used on a TensorRT object in `path`."
    tree = ast.parse(path.read_text())
    uses = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or (only is not None and fn.name not in only): continue
        outermost = {id(n.value) for n in ast.walk(fn) if isinstance(n, ast.Attribute)}  # attribute nodes that are inner links
        for node in ast.walk(fn):
            if not isinstance(node, ast.Attribute) or id(node) in outermost: continue
            chain = dotted(node)
            if chain is None: continue
            for root in sorted(roots, key=len, reverse=True):
                if chain.startswith(root + "."):
                    uses.append((fn.name, root, roots[root], chain[len(root) + 1:].split("."), node.lineno)); break
    return sorted(set((f, r, c, tuple(a), l) for f, r, c, a, l in uses))


def resolve(module, cls, attrs):
    obj = module if cls is None else getattr(module, cls)
    for a in attrs: obj = getattr(obj, a)
    return obj


def stub_members():
    "Class -> member names in the TensorRT 10 stubs (read as text: the stubs have a few syntax errors)."
    text = (stub_dir()/"tensorrt.pyi").read_text()
    members = {}
    for m in re.finditer(r"^class (\w+)", text, re.M):
        end = text.find("\nclass ", m.end())
        members[m.group(1)] = set(re.findall(r"^    (?:def )?(\w+)", text[m.end(): end if end > 0 else None], re.M))
    return members


def stub_dir():
    import importlib.util
    spec = importlib.util.find_spec("tensorrt_stubs")
    assert spec is not None, "tensorrt-stubs is not installed: pip install --no-deps tensorrt-stubs==10.13.0.35.1"
    return Path(spec.submodule_search_locations[0]).parent/"tensorrt_bindings"


def test_runtime_attributes_exist_in_tensorrt_lean_and_rtx():
    import tensorrt_lean, tensorrt_rtx
    uses = [u for u in tensorrt_uses(ENGINE, RUNTIME_ROOTS)] + tensorrt_uses(BUILD, {"flavour": None}, RUNTIME_FUNCTIONS_OF_BUILD)
    missing = [(module.__name__, fn, ".".join(filter(None, [cls, *attrs])), line) for module in (tensorrt_lean, tensorrt_rtx)
               for fn, root, cls, attrs, line in uses if not _has(module, cls, attrs)]
    assert missing == []
    found = {".".join(filter(None, [cls, *attrs])) for _, _, cls, attrs, _ in uses}
    for needed in ("ICudaEngine.num_io_tensors", "ICudaEngine.get_tensor_name", "ICudaEngine.get_tensor_mode", "ICudaEngine.get_tensor_dtype",
                   "ICudaEngine.get_tensor_profile_shape", "IExecutionContext.set_input_shape", "IExecutionContext.infer_shapes",
                   "IExecutionContext.set_tensor_address", "IExecutionContext.execute_async_v3", "Runtime.deserialize_cuda_engine"):
        assert needed in found, f"the scan did not find {needed}: a renamed variable? update RUNTIME_ROOTS"
    print(f"{len(found)} runtime attributes checked against tensorrt_lean {tensorrt_lean.__version__} and tensorrt_rtx {tensorrt_rtx.__version__}: {sorted(found)}")


def _has(module, cls, attrs):
    try: resolve(module, cls, attrs); return True
    except AttributeError: return False


def test_builder_attributes_exist_in_tensorrt_rtx_or_the_tensorrt10_stubs():
    import tensorrt_rtx
    uses = tensorrt_uses(BUILD, BUILD_ROOTS)
    rtx = [u for u in uses if not u[0].startswith("_tensorrt10_")]
    trt10 = [u for u in uses if u[0].startswith("_tensorrt10_")]
    missing = [(fn, ".".join(filter(None, [cls, *attrs])), line) for fn, _, cls, attrs, line in rtx if not _has(tensorrt_rtx, cls, attrs)]
    assert missing == []
    members = stub_members()
    missing10 = [(fn, cls, attrs, line) for fn, _, cls, attrs, line in trt10 if attrs[0] not in members[cls]]
    assert missing10 == [] and len(trt10) >= 4, (missing10, trt10)
    found = {".".join(filter(None, [cls, *attrs])) for _, _, cls, attrs, _ in rtx}
    for needed in ("Builder.create_network", "Builder.create_builder_config", "Builder.build_serialized_network", "OnnxParser.parse_from_file",
                   "IBuilderConfig.set_memory_pool_limit", "MemoryPoolType.WORKSPACE", "IOptimizationProfile.set_shape"):
        assert needed in found, f"the scan did not find {needed}: a renamed variable? update BUILD_ROOTS"
    print(f"{len(found)} builder attributes checked against tensorrt_rtx {tensorrt_rtx.__version__}; "
          f"{len(trt10)} TensorRT 10 only uses against the stubs: {sorted({'.'.join([c, *a]) for _, _, c, a, _ in trt10})}")


def test_the_scan_finds_a_wrong_attribute(tmp_path):
    bad = tmp_path/"bad.py"
    bad.write_text("def run(context, stream):\n    context.execute_async_v2(stream)\n")
    import tensorrt_lean
    uses = tensorrt_uses(bad, RUNTIME_ROOTS)
    assert [(c, a) for _, _, c, a, _ in uses] == [("IExecutionContext", ("execute_async_v2",))]
    assert not _has(tensorrt_lean, "IExecutionContext", ["execute_async_v2"])


def repaired_stubs(folder):
    "Copy the TensorRT 10 stubs and repair their few syntax errors (parameters named `in`, defaults before non-defaults)."
    import importlib.util
    site = stub_dir().parent
    shutil.copytree(site/"tensorrt", folder/"tensorrt", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    shutil.copytree(site/"tensorrt_bindings", folder/"tensorrt_bindings", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = folder/"tensorrt_bindings"/"tensorrt.pyi"
    lines = [_repair(line) for line in path.read_text().splitlines(keepends=True)]
    path.write_text("".join(lines))
    ast.parse("".join(lines))
    (folder/"mypy.ini").write_text("[mypy]\nfollow_imports = silent\nignore_missing_imports = True\n"
                                   "[mypy-tensorrt_bindings.*]\nignore_errors = True\n[mypy-tensorrt.*]\nignore_errors = True\n")
    return folder


def _repair(line):
    stripped = line.strip()
    if not stripped.startswith("def ") or _parses(stripped): return line
    line = re.sub(r"([(,]\s*)(in|from|is|lambda)(\s*:)", r"\1\2_\3", line)
    if _parses(line.strip()): return line
    head, _, rest = line.partition("(")
    params, close, tail = rest.rpartition(")")
    parts, seen_default = [], False
    for p in re.split(r",\s*(?![^\[]*\])", params):
        if "=" in p: seen_default = True
        elif seen_default and p.strip() and not p.strip().startswith("*"): p += " = ..."
        parts.append(p)
    return head + "(" + ", ".join(parts) + close + tail


def _parses(code):
    try: ast.parse(code + " ..."); return True
    except SyntaxError: return False


def patched_names():
    "Functions added to classes with fastcore's @patch (mypy cannot see those)."
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(dotted(d) == "patch" or (isinstance(d, ast.Name) and d.id == "patch") for d in node.decorator_list):
                names.add(node.name)
    return names


def run_mypy(folder, *files):
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(folder/"mypy.ini"), "--no-error-summary", *map(str, files)],
                          capture_output=True, text=True, cwd=folder, env={"MYPYPATH": str(folder), "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    return repaired_stubs(tmp_path_factory.mktemp("stubs"))


def test_tensorrt10_path_type_checks_with_mypy(stubs):
    run = run_mypy(stubs, ENGINE, BUILD, CALIBRATION)
    errors = [l for l in run.stdout.splitlines() if ": error:" in l]
    patched = patched_names()
    def patch_artifact(line):  # mypy does not understand fastcore's @patch, nor nn.Module's attribute typing for patched methods
        m = re.search(r'has no attribute "(\w+)"|Name "(\w+)" already defined', line)
        if m and (m.group(1) or m.group(2)) in patched: return True
        return "Tensor | Module" in line or '"Tensor" not callable' in line
    real = [l for l in errors if not patch_artifact(l)]
    assert real == [], "\n".join(real)
    assert run.returncode in (0, 1), run.stderr
    print(f"mypy: {len(errors) - len(real)} @patch artifacts ignored, {len(real)} errors")


def test_mypy_with_the_stubs_catches_removed_apis(stubs, tmp_path):
    bad = tmp_path/"uses_removed.py"
    bad.write_text("from __future__ import annotations\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import tensorrt as trt10\n"
                   "def run(context:trt10.IExecutionContext, engine:trt10.ICudaEngine, config:trt10.IBuilderConfig)->None:\n"
                   "    context.execute_async_v2([], 0)\n    engine.num_bindings\n    config.set_flag(trt10.BuilderFlag.STRICT_TYPES)\n"
                   "    context.set_input_shape('x', 3)\n")
    out = run_mypy(stubs, bad).stdout
    for expected in ('"IExecutionContext" has no attribute "execute_async_v2"', '"ICudaEngine" has no attribute "num_bindings"',
                     'has no attribute "STRICT_TYPES"', 'No overload variant of "set_input_shape"'):
        assert expected in out, out


REMOVED = [r"get_binding", r"binding_is_input", r"execute_async_v2", r"execute_v2\(", r"set_binding_shape", r"num_bindings",
           r"max_workspace_size", r"\.build_engine\(", r"STRICT_TYPES", r"EXPLICIT_BATCH",
           r"\.max_batch_size\s*=[^=]"]  # TensorRT 7's builder.max_batch_size = N; Triton's max_batch_size (serving) is another thing


def test_removed_tensorrt_apis_never_appear_in_the_package():
    hits = [(p.name, i, line.strip()) for p in sorted(PACKAGE.rglob("*.py")) for i, line in enumerate(p.read_text().splitlines(), 1)
            for pattern in REMOVED if re.search(pattern, line)]
    assert hits == []


def test_the_removed_api_grep_finds_them(tmp_path):
    text = "ctx.execute_async_v2(bindings, stream)\nengine.get_binding_shape(0)\nbuilder.build_engine(network, config)\nbuilder.max_batch_size = 4\n"
    assert [p for p in REMOVED if re.search(p, text)] == [r"get_binding", r"execute_async_v2", r"\.build_engine\(", r"\.max_batch_size\s*=[^=]"]
    assert not [p for p in REMOVED if re.search(p, "ModelConfig(max_batch_size=4)\nif model.max_batch_size == 4: pass\n")]  # Triton's field
