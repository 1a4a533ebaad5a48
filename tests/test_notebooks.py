"""House rules for the notebooks that nbdev itself does not enforce (see STYLE.md s.1-2).

The docs step (nbdev_proc_nbs) executes every cell that holds an import, an export or a show_doc, even when the cell
is flagged or hidden: a cell that mixes imports with code that needs earlier cells breaks the docs, and a flagged
cell with an import would run GPU code on a CPU machine.
"""
import ast, json, re
from pathlib import Path

import pytest

NBS = sorted((Path(__file__).parent.parent / "nbs").glob("*.ipynb")) + sorted((Path(__file__).parent.parent / "nbs").glob("guides/*.ipynb"))
IMPORT = re.compile(r"^(import |from \S+ import )")
FLAGS = {"slow", "cuda", "trt", "notest"}

def code_cells(path):
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "code": continue
        source = "".join(cell["source"])
        directives = {l[3:].strip().split()[0] for l in source.splitlines() if l.startswith("#| ") and l[3:].strip()}
        body = [l for l in source.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        yield i, directives, body

def statements(body):
    "The cell's top-level statements and every node under them, parsed as nbdev parses it (magics and shell lines left out)."
    tree = ast.parse("\n".join(l for l in body if not l.lstrip().startswith(("%", "!"))))
    return tree.body, list(ast.walk(tree))

@pytest.mark.parametrize("path", NBS, ids=lambda p: p.name)
def test_imports_stand_alone(path):
    "nbdev runs a cell for the docs when an import sits anywhere in it, an `if` branch included (ast.walk)."
    IMPORTS = (ast.Import, ast.ImportFrom)
    mixed = []
    for i, directives, body in code_cells(path):
        if directives & {"export", "exports"}: continue
        top, nodes = statements(body)
        if any(isinstance(n, IMPORTS) for n in nodes) and not all(isinstance(n, IMPORTS) for n in top): mixed.append(i)
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
