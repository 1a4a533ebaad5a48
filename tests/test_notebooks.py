"""House rules for the notebooks that nbdev itself does not enforce (see STYLE.md s.1-2).

The docs step (nbdev_proc_nbs) executes every cell that holds an import, an export or a show_doc, even when the cell
is flagged or hidden: a cell that mixes imports with code that needs earlier cells breaks the docs, and a flagged
cell with an import would run GPU code on a CPU machine.
"""
import json, re
from pathlib import Path

import pytest

NBS = sorted((Path(__file__).parent.parent / "nbs").glob("*.ipynb"))
IMPORT = re.compile(r"^(import |from \S+ import )")
FLAGS = {"slow", "cuda", "trt", "notest"}

def code_cells(path):
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "code": continue
        source = "".join(cell["source"])
        directives = {l[3:].strip().split()[0] for l in source.splitlines() if l.startswith("#| ") and l[3:].strip()}
        body = [l for l in source.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        yield i, directives, body

@pytest.mark.parametrize("path", NBS, ids=lambda p: p.name)
def test_imports_stand_alone(path):
    mixed = [i for i, directives, body in code_cells(path)
             if not directives & {"export", "exports"} and any(IMPORT.match(l) for l in body) and not all(IMPORT.match(l) for l in body)]
    assert mixed == [], f"{path.name}: cells {mixed} mix imports with other code (the docs step runs import cells alone)"

@pytest.mark.parametrize("path", NBS, ids=lambda p: p.name)
def test_flagged_cells_hold_no_import_or_show_doc(path):
    bad = [i for i, directives, body in code_cells(path)
           if directives & FLAGS and any(IMPORT.match(l) or "show_doc(" in l for l in body)]
    assert bad == [], f"{path.name}: flagged cells {bad} hold an import or show_doc (the docs step would run them)"

@pytest.mark.parametrize("path", NBS, ids=lambda p: p.name)
def test_title_summary_and_default_exp(path):
    cells = json.loads(path.read_text())["cells"]
    first = "".join(cells[0]["source"]).splitlines()
    assert cells[0]["cell_type"] == "markdown" and first[0].startswith("# ") and any(l.startswith("> ") for l in first), path.name
    exports = any("#| export" in "".join(c["source"]) for c in cells if c["cell_type"] == "code")
    if exports:  # a notebook that exports nothing (index, the bad-input table) has no module
        assert any("#| default_exp" in "".join(c["source"]) for c in cells if c["cell_type"] == "code"), path.name
