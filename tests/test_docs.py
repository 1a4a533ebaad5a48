"""The docs site's own logic (tools/docs.py staging, tools/check_site.py's text checks), on small notebooks written here.
The whole build and the browser check run in tools/test.sh's docs stage on the real notebooks."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/"tools"))
import docs, check_site  # noqa: E402

DOC = "https://autovoice-trt.github.io/autovoice_trt/"
PAGES = {"index.ipynb": "index", "25_pipeline.ipynb": "pipeline", "34_fp16.ipynb": "fp16", "guides/tensorrt.ipynb": "guides/tensorrt"}
SYMBOLS = {"fp16.html#_cast_to": "_modules/autovoice_trt/graphs/fp16.py.html#L-40"}

def linker(page="pipeline"):
    return docs.Linker(DOC, PAGES, page, {"pipeline": {"prepare_inputs"}, "fp16": {"fp16_graph"}}, SYMBOLS)

def test_sidebar_lists_every_notebook_once():
    "A notebook missing from nbs/sidebar.yml would be missing from both sites (Quarto's and this one)."
    listed = [nb for _, items in docs.sidebar(ROOT/"nbs"/"sidebar.yml") for nb in items]
    on_disk = sorted(p.relative_to(ROOT/"nbs").as_posix() for p in (ROOT/"nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    assert sorted(listed) == on_disk and len(set(listed)) == len(listed)

def test_front_matter_becomes_the_title():
    raw = {"cell_type": "raw", "metadata": {}, "source": "---\ndescription: What it does.\noutput-file: pipeline.html\ntitle: The pipeline\n---\n"}
    meta = docs.front_matter(raw)
    assert docs.docname("25_pipeline.ipynb", meta) == "pipeline" and docs.docname("guides/x.ipynb", {}) == "guides/x"
    staged = docs.stage_notebook({"cells": [raw, {"cell_type": "markdown", "metadata": {}, "source": "text"}], "metadata": {}}, linker())
    assert staged["cells"][0]["source"].startswith("# The pipeline\n\n*What it does.*")
    assert staged["metadata"]["language_info"]["name"] == "python" and all("id" in c for c in staged["cells"])

def test_directives_become_tags_and_leave_the_source():
    cell = {"cell_type": "code", "metadata": {}, "has_sd": True, "source": "#| echo: false\n#| output: asis\nshow_doc(f)", "outputs": [
        {"output_type": "display_data", "metadata": {}, "data": {"text/markdown": '---\n\n[source](https://github.com/a/b/blob/main/autovoice_trt/pipeline.py#L86){target="_blank" style="float:right"}\n\n### prepare_inputs\n'}}]}
    staged = docs.stage_cell(cell, linker())
    assert staged["source"] == "show_doc(f)" and staged["metadata"]["tags"] == ["remove-input"] and "has_sd" not in staged
    out = staged["outputs"][0]["data"]["text/markdown"]
    assert "{target=" not in out and "\n---" not in out and not out.startswith("---")
    assert "](_modules/autovoice_trt/pipeline.py.html#L-86)" in out
    assert '<a id="prepare_inputs"></a>\n\n### prepare_inputs' in out
    signature = docs.show_doc_anchors("```python\ndef f()->dict: # [`ExplorerResult`](explorer.html#explorerresult)'s fields\n```\n[`f`](x.html)")
    assert "# ExplorerResult's fields" in signature and signature.endswith("[`f`](x.html)")  # links leave code, stay in prose

@pytest.mark.parametrize("url, page, expected", [
    (DOC + "pipeline.html#prepare_inputs", "fp16", "pipeline.html#prepare_inputs"),       # a documented name: its heading
    (DOC + "fp16.html#_cast_to", "pipeline", "_modules/autovoice_trt/graphs/fp16.py.html#L-40"),  # no show_doc: its source
    (DOC + "pipeline.html#prepare_inputs", "guides/tensorrt", "../pipeline.html#prepare_inputs"),  # from a guide, one folder down
    ("../25_pipeline.ipynb#chunks", "guides/tensorrt", "../pipeline.html#chunks"),            # a notebook link: its page
    ("guides/tensorrt.ipynb", "index", "guides/tensorrt.html"),
    ("https://docs.nvidia.com/deeplearning/tensorrt/", "index", "https://docs.nvidia.com/deeplearning/tensorrt/"),
])
def test_links_point_into_this_site(url, page, expected):
    assert linker(page).target(url) == expected

def test_a_link_to_nothing_is_an_error():
    with pytest.raises(ValueError, match="not a page of this site"): linker().target("99_gone.ipynb")
    with pytest.raises(ValueError, match="names no page"): linker().target(DOC + "gone.html#x")

def test_leftover_syntax_is_found():
    assert check_site.leftovers('[source](x){target="_blank"}\n#| echo: false\noutput-file: a.html\nIn [3]: x') == \
        ["Quarto link attributes", "a cell directive", "front matter", "an input prompt"]
    assert check_site.leftovers("The pipeline\nprepare_inputs turns a recording into inputs | 3 | 4") == []
    assert check_site.leftovers("", "| backend | precision |\n| —|—| ") == ["a Markdown table left as text"]
    assert check_site.leftovers("| a | b |", "backend\tprecision") == []  # a table in a code block, or rendered

def test_site_paths():
    site, base = Path("/s"), "http://127.0.0.1:9/"
    assert check_site.site_path(site, base + "guides/tensorrt.html", base) == Path("/s/guides/tensorrt.html")
    assert check_site.site_path(site, base, base) == Path("/s/index.html")
    assert check_site.site_path(site, "https://example.org/x.html", base) is None

def test_readme_links_stay_in_the_repo():
    "A clone has only itself: every README link is a relative path that exists (the CPU wheel index is a command, not a link)."
    import re
    readme = (ROOT/"README.md").read_text()
    assert "../shared" not in readme, "README points outside the clone (../shared)"
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert links, "README has no links to check"
    outside = [l for l in links if "://" in l or l.startswith(("..", "/")) or not (ROOT/l.split("#")[0]).exists()]
    assert outside == []
