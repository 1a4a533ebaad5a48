"""Packaging and process-level checks: what a user gets from `pip install` and a fresh interpreter."""
import json, os, subprocess, sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]/"autovoice_trt"
MODULES = sorted(".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("*.py")
                 if p.name != "__init__.py" and p.name != "_modidx.py")

def test_default_config_ships_with_the_package():
    from autovoice_trt.config import DEFAULT_CONFIG_PATH, load_config
    assert DEFAULT_CONFIG_PATH.is_file()
    assert load_config().tensorrt.voice_conversion.precision in ("fp32", "fp16", "int8")

def test_importing_every_module_writes_nothing(tmp_path):
    code = "import importlib\n" + "".join(f"importlib.import_module('autovoice_trt.{m}')\n" for m in MODULES)
    env = {**os.environ, "HOME": str(tmp_path / "home"), "MPLCONFIGDIR": str(tmp_path / "mpl")}
    (tmp_path / "home").mkdir()
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [], written

def test_cli_help_and_info_json():
    run = subprocess.run(["autovoice-trt", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "convert" in run.stdout and "demo" in run.stdout
    run = subprocess.run(["autovoice-trt", "info", "--json"], capture_output=True, text=True)
    info = json.loads(run.stdout)
    assert info["torch"].startswith("2.") and "tensorrt_rtx" in info

def test_cli_usage_error_is_one_line_exit_2(tmp_path):
    run = subprocess.run(["autovoice-trt", "demo", "--output-dir", str(tmp_path / "d"), "--seconds", "-1"], capture_output=True, text=True)
    assert run.returncode == 2 and "seconds: expected > 0" in run.stderr and "Traceback" not in run.stderr
