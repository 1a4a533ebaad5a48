"""Execute notebooks and save their outputs in place, skipping cells flagged like nbdev_test does.

The notebooks are the docs: their tables, checks and plots should be visible in JupyterLab and in the rendered site.
`nbdev_test` runs them but keeps no output; this runs them the same way (execnb, same skip rule, working directory
= the notebook's folder) and writes the outputs back. Run `nbdev_clean` afterwards (it drops execution counts).

    python tools/run_notebooks.py nbs/*.ipynb                 # skips cells flagged notest/slow/cuda/trt
    python tools/run_notebooks.py --flags "cuda trt" nbs/40_engine.ipynb   # on a GPU machine: run those too
"""
import argparse, os, sys, time
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.process import NBProcessor
from nbdev.frontmatter import FrontmatterProc

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("notebooks", nargs="+", type=Path)
parser.add_argument("--flags", default="", help="flags to run although settings.ini's tst_flags skip them")
args = parser.parse_args()

skip = set(get_config().tst_flags.split()) - set(args.flags.split())
os.environ["IN_TEST"] = "1"
failed = []
for path in args.notebooks:
    path = path.resolve()
    raw = read_nb(path)
    nb = NBProcessor(path, procs=FrontmatterProc, process=True).nb
    def no_eval(cell):
        if cell.cell_type != "code": return True
        directives = getattr(cell, "directives_", {}) or {}
        if directives.get("eval:", [""])[0].lower() == "false": return True
        return bool(skip & directives.keys())
    start = time.time()
    shell = CaptureShell(path)
    try:
        with working_directory(path.parent): shell.run_all(nb, exc_stop=True, preproc=no_eval)
    except Exception:
        sys.stderr.write(shell.prettytb(fname=path) + "\n"); failed.append(path.name); continue
    outputs = {c.get("id"): c.get("outputs", []) for c in nb.cells if c.cell_type == "code"}
    for cell in raw.cells:
        if cell.cell_type == "code" and cell.get("id") in outputs: cell["outputs"] = outputs[cell["id"]]
    write_nb(raw, path)
    print(f"{path.name}: ran in {time.time() - start:.1f} s, outputs saved")
if failed: sys.exit(f"failed: {', '.join(failed)}")
