"""Every script in tools/ still runs as far as its options (`--help`: its imports, its parser) and imports only public
names that exist in the package, including imports inside functions, which `--help` does not reach."""
import ast, importlib, runpy, sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1]/"tools"
SCRIPTS = sorted(TOOLS.glob("*.py"))

@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_runs(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    monkeypatch.syspath_prepend(str(TOOLS))
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_.value.code in (0, None), capsys.readouterr().err[-2000:]
    assert "usage:" in capsys.readouterr().out

@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_package_imports_exist_and_are_public(script):
    wrong = []
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "autovoice_trt":
            module = importlib.import_module(node.module)
            wrong += [f"{node.module}.{a.name} (line {node.lineno})" for a in node.names
                      if a.name.startswith("_") or not hasattr(module, a.name)]
    assert wrong == [], f"{script.name} imports names that are private or gone: {wrong}"

def test_shell_scripts_parse():
    import subprocess
    for script in sorted(TOOLS.glob("*.sh")):
        run = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert run.returncode == 0, (script.name, run.stderr)
