"""Build the docs site offline: nbdev's processed notebooks (`_proc/`, from `nbdev_proc_nbs`) rendered by Sphinx with
myst-nb into `_site/`, with the navigation of `nbs/sidebar.yml` (the sidebar Quarto reads too).

    python tools/docs.py            # nbdev_proc_nbs into _proc/, staged into _docs_src/, then sphinx-build -W into _site/
    python tools/check_site.py      # then open every page in headless Chromium

Why Sphinx + myst-nb: Quarto (what `nbdev_docs` runs) downloads a binary and cannot be installed here. Sphinx builds
from PyPI alone, offline, with a client-side search index, a navigation tree and `-W` (a toctree entry, a
cross-reference or an image that does not resolve fails the build); myst-nb renders the notebooks' saved outputs
(tables, PNG plots, the `show_doc` Markdown) without executing them, and is kept by the Executable Books project
beside Jupyter Book. MkDocs + mkdocs-jupyter was the other candidate; its search and `--strict` are comparable, but
MkDocs 1.x has had no feature release since 2024 and its theme ecosystem is moving elsewhere.

What staging does to each processed notebook, so that no Quarto syntax reaches the page:
- the front matter (a raw cell) becomes the page's `# title` and its description;
- `#| echo: false` / `output: false` / `include: false` become myst-nb's `remove-input` / `remove-output` /
  `remove-cell` tags, and every `#|` directive line leaves the shown source;
- Quarto's link attributes (`{target="_blank" ...}`) are dropped;
- nbdev's doc links (`doc_host/<page>.html#<name>`) become local links to the page, whose `show_doc` heading gets an
  anchor of that exact name; `[source]` links become this build's highlighted copy of the module (`_modules/`),
  with the line anchor nbdev gives;
- links to another notebook (`25_pipeline.ipynb`) point to its page under the name Quarto gives it (`pipeline`).
"""
from __future__ import annotations

import argparse, html, json, re, shutil, subprocess, sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ATTRS = re.compile(r"(\]\([^)\s]*\))\{[^}\n]*\}")  # Quarto's attributes after a link
LINK = re.compile(r"\]\(([^)\s]+)\)")
SOURCE = re.compile(r"https://github\.com/[^/]+/[^/]+/blob/[^/]+/([^)#\s]+\.py)(?:#L(\d+))?")
HEADING = re.compile(r"^(#{2,4}) (\S+)$", re.M)
RULE = re.compile(r"^---[ \t]*$", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE_LINK = re.compile(r"\[`?([^\]`\n]+)`?\]\([^)\s]*\)")
DIRECTIVE_TAGS = {"echo: false": "remove-input", "output: false": "remove-output", "include: false": "remove-cell"}


def sidebar(path:Path)->list[tuple[str|None, list[str]]]:
    "nbs/sidebar.yml as (section title or None, [notebook paths]) in order."
    contents = yaml.safe_load(path.read_text())["website"]["sidebar"]["contents"]
    groups: list[tuple[str|None, list[str]]] = []
    for item in contents:
        if isinstance(item, str): groups.append((None, [item]))
        else: groups.append((item["section"], list(item["contents"])))
    return groups


def front_matter(cell:dict)->dict:
    "The YAML between a raw cell's `---` lines (nbdev puts title, description and output-file there)."
    text = "".join(cell["source"]).strip()
    if cell["cell_type"] != "raw" or not text.startswith("---"): return {}
    return yaml.safe_load(text.strip("-\n")) or {}


def docname(notebook:str, meta:dict)->str:
    "The page a notebook becomes: Quarto's output-file when nbdev set one (`25_pipeline.ipynb` -> `pipeline`), else its path."
    folder = str(Path(notebook).parent)
    stem = Path(meta["output-file"]).stem if meta.get("output-file") else Path(notebook).stem
    return stem if folder == "." else f"{folder}/{stem}"


def relative(target:str, source:str)->str:
    "A link from page `source` to page-or-file `target` (both relative to the site root)."
    depth = source.count("/")
    return "../" * depth + target


class Linker:
    "Rewrites one page's links: nbdev doc links, [source] links and notebook links, all to pages of this site."
    def __init__(self, doc_url:str, pages:dict[str, str], page:str, documented:dict[str, set[str]], symbols:dict[str, str]):
        "documented: page -> the anchors its show_doc headings give; symbols: nbdev doc link -> `_modules/` source link."
        self.doc_url, self.pages, self.page = doc_url.rstrip("/") + "/", pages, page
        self.documented, self.symbols = documented, symbols
        self.html_names = {Path(p).name + ".html": p for p in pages.values()}

    def target(self, url:str)->str:
        "Where `url` points in this build (unchanged when it is external and not ours)."
        if m := SOURCE.match(url):
            anchor = f"#L-{m.group(2)}" if m.group(2) else ""  # pygments names line n `L-n`
            return relative(f"_modules/{m.group(1)}.html{anchor}", self.page)
        if url.startswith(self.doc_url):
            name, _, anchor = url[len(self.doc_url):].partition("#")
            page = self.html_names.get(name)
            if page is None: raise ValueError(f"{self.page}: doc link {url} names no page of this site")
            if anchor and anchor not in self.documented.get(page, set()) and f"{name}#{anchor}" in self.symbols:
                return relative(self.symbols[f"{name}#{anchor}"], self.page)  # a name with no show_doc (private): its source
            return relative(f"{page}.html" + (f"#{anchor}" if anchor else ""), self.page)
        path, _, anchor = url.partition("#")
        if path.endswith(".ipynb") and "://" not in path:
            resolved = (Path(self.page).parent/path).as_posix()
            resolved = re.sub(r"[^/]+/\.\./", "", resolved).removeprefix("./")
            key = resolved if resolved in self.pages else Path(path).name
            if key not in self.pages: raise ValueError(f"{self.page}: link to {path}, which is not a page of this site")
            return relative(f"{self.pages[key]}.html" + (f"#{anchor}" if anchor else ""), self.page)
        return url

    def markdown(self, text:str)->str:
        "Quarto attributes dropped, links rewritten, and an anchor before each `show_doc` heading with nbdev's name."
        text = ATTRS.sub(r"\1", text)
        text = LINK.sub(lambda m: f"]({self.target(m.group(1))})", text)
        return text


def documented_anchors(nb:dict)->set[str]:
    "The anchors a notebook's show_doc output gives (nbdev's: the heading's name in lower case)."
    return {m.group(2).lower() for c in nb["cells"] for o in c.get("outputs", [])
            for m in HEADING.finditer("".join(o.get("data", {}).get("text/markdown", "")))}


def symbol_sources(root:Path, lib:str)->dict[str, str]:
    "nbdev's index (`<lib>._modidx`): each symbol's doc link (`fp16.html#_cast_to`) -> its line in this build's `_modules/`."
    import importlib
    index = importlib.import_module(f"{lib}._modidx").d
    lines: dict[str, list[str]] = {}
    out = {}
    for symbols in index["syms"].values():
        for symbol, (doc, source) in symbols.items():
            text = lines.setdefault(source, (root/source).read_text().splitlines())
            name = symbol.rsplit(".", 1)[-1]
            found = next((i + 1 for i, l in enumerate(text) if re.match(rf"\s*(def|class|async def) {re.escape(name)}\b|{re.escape(name)}\s*[:=]", l)), None)
            out[doc] = f"_modules/{source}.html" + (f"#L-{found}" if found else "")
    return out


def show_doc_anchors(text:str)->str:
    """`### name` headings of show_doc output get an HTML anchor with nbdev's id (the name, lower case); its `---` rule
    goes (docutils allows a transition only between sections, not inside an output)."""
    text = RULE.sub("", text)
    text = FENCE.sub(lambda m: CODE_LINK.sub(r"\1", m.group(0)), text)  # nbdev links names in signatures' comments: code shows them raw
    return HEADING.sub(lambda m: f'<a id="{html.escape(m.group(2).lower())}"></a>\n\n{m.group(1)} {m.group(2)}', text)


def stage_cell(cell:dict, linker:Linker)->dict|None:
    "One cell as myst-nb should see it (None: drop it)."
    source = "".join(cell["source"])
    if cell["cell_type"] == "markdown":
        if source.strip().startswith("<!-- WARNING: THIS FILE WAS AUTOGENERATED"): return None
        return {**cell, "source": linker.markdown(source)}
    if cell["cell_type"] != "code": return cell
    lines = source.splitlines()
    directives = [l[3:].strip() for l in lines if l.startswith("#|")]
    tags = sorted({DIRECTIVE_TAGS[d] for d in directives if d in DIRECTIVE_TAGS})
    outputs = []
    for out in cell.get("outputs", []):
        data = dict(out.get("data", {}))
        if "text/markdown" in data:
            data["text/markdown"] = show_doc_anchors(linker.markdown("".join(data["text/markdown"])))
        outputs.append({**out, "data": data} if "data" in out else out)
    cell = {k: v for k, v in cell.items() if k != "has_sd"}  # nbdev's marker, not in nbformat's schema
    metadata = {**cell.get("metadata", {}), **({"tags": tags} if tags else {})}
    return {**cell, "source": "\n".join(l for l in lines if not l.startswith("#|")), "outputs": outputs, "metadata": metadata}


def stage_notebook(nb:dict, linker:Linker)->dict:
    "A processed notebook with its front matter as the page's title and every cell staged."
    cells, meta = nb["cells"], {}
    if cells and (meta := front_matter(cells[0])): cells = cells[1:]
    head = [{"cell_type": "markdown", "metadata": {}, "id": "title",
             "source": f"# {meta['title']}\n\n" + (f"*{meta['description'].strip()}*\n" if meta.get("description") else "")}] if meta.get("title") else []
    staged = [c for c in (stage_cell(c, linker) for c in cells) if c is not None]
    for i, c in enumerate(head + staged): c.setdefault("id", f"cell{i}")
    metadata = {**nb.get("metadata", {}), "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python", "pygments_lexer": "ipython3"}}  # nbdev_clean strips both; myst-nb highlights by them
    return {**nb, "metadata": metadata, "cells": head + staged}


def module_pages(lib:Path, out:Path)->int:
    "Each module of the package as a highlighted page with line anchors `#L<n>` (what the [source] links open)."
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    fmt = HtmlFormatter(linenos="inline", lineanchors="L", anchorlinenos=True, full=True, style="friendly")
    n = 0
    for path in sorted(lib.rglob("*.py")):
        rel = path.relative_to(lib.parent)
        dest = out/"_modules"/f"{rel}.html"; dest.parent.mkdir(parents=True, exist_ok=True)
        fmt.title = str(rel)
        page = highlight(path.read_text(), PythonLexer(), fmt)
        dest.write_text(page.replace("</head>", f'<link rel="icon" href="{"../" * len(rel.parts)}favicon.svg">\n</head>', 1)); n += 1
    return n


FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#76b900"/>'
           '<path d="M3 11 Q5 3 8 8 T13 5" stroke="#fff" stroke-width="1.6" fill="none"/></svg>')  # a voice over NVIDIA green

CONF = '''# Generated by tools/docs.py: the Sphinx configuration of the offline site.
project = {project!r}
author = {author!r}
copyright = {copyright!r}
extensions = ["myst_nb"]
nb_execution_mode = "off"            # the notebooks ran in CI (nbdev_test) and in tools/run_notebooks.py; show their outputs
nb_output_stderr = "remove"
nb_render_markdown_format = "myst"  # Markdown outputs (show_doc, markdown_table) parsed as MyST, tables included; the default is plain CommonMark
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_all_links_external = True      # links are already this site's pages (staged): tools/check_site.py opens each in Chromium
html_theme = "furo"
html_title = {project!r}
html_static_path = []
html_extra_path = ["_extra"]
html_favicon = "_extra/favicon.svg"
exclude_patterns = ["_extra", "_build"]
suppress_warnings = ["myst.header"]  # notebooks' headings start at ## under the page title; levels may skip
'''


def stage(proc:Path, out:Path, nbs:Path, root:Path=ROOT)->dict[str, str]:
    "Write the Sphinx source folder: staged notebooks, index toctrees from the sidebar, conf.py, extra files. Returns notebook -> page."
    from nbdev.config import get_config
    settings = get_config(path=root)  # settings.ini, as nbdev reads it
    doc_url = settings.doc_host.rstrip("/") + (settings.doc_baseurl or "/")
    groups = sidebar(nbs/"sidebar.yml")
    listed = [nb for _, items in groups for nb in items]
    missing = [nb for nb in listed if not (proc/nb).exists()]
    if missing: raise SystemExit(f"docs: sidebar.yml lists {missing}, which nbdev_proc_nbs did not write to {proc}")
    unlisted = sorted(p.relative_to(proc).as_posix() for p in proc.rglob("*.ipynb")
                      if p.relative_to(proc).as_posix() not in listed and not p.name.startswith("_"))
    if unlisted: raise SystemExit(f"docs: {unlisted} are not in nbs/sidebar.yml: add them to a section")
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    notebooks = {nb: json.loads((proc/nb).read_text()) for nb in listed}
    pages = {nb: docname(nb, front_matter(notebooks[nb]["cells"][0]) if notebooks[nb]["cells"] else {}) for nb in listed}
    clashes = sorted({p for p in pages.values() if list(pages.values()).count(p) > 1})
    if clashes: raise SystemExit(f"docs: two notebooks become the page {clashes} (Quarto would overwrite one): rename one")
    documented = {pages[nb]: documented_anchors(notebooks[nb]) for nb in listed}
    symbols = symbol_sources(root, settings.lib_name)
    for nb, page in pages.items():
        try: staged = stage_notebook(notebooks[nb], Linker(doc_url, pages, page, documented, symbols))
        except ValueError as e: raise SystemExit(f"docs: {e}") from None
        if page == "index": staged["cells"] += [toctree_cell(title, [pages[n] for n in items]) for title, items in groups if title]
        dest = out/f"{page}.ipynb"; dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(staged, indent=1))
    extra = out/"_extra"; extra.mkdir()
    module_pages(settings.lib_path, extra)
    (extra/"favicon.svg").write_text(FAVICON)
    if (nbs/"data").exists(): shutil.copytree(nbs/"data", extra/"data")
    if (nbs/"images").exists(): shutil.copytree(nbs/"images", out/"images")  # pictures the pages show (`images/x.png`), found by Sphinx
    (out/"conf.py").write_text(CONF.format(project=settings.lib_name, author=settings.author, copyright=settings.copyright))
    return pages


def toctree_cell(title:str, pages:list[str])->dict:
    "A hidden toctree for one sidebar section (Sphinx's navigation; hidden, so the index page reads as it does in Jupyter)."
    body = "\n".join(pages)
    return {"cell_type": "markdown", "metadata": {}, "id": re.sub(r"\W+", "-", title.lower()),
            "source": f"```{{toctree}}\n:caption: {title}\n:hidden:\n\n{body}\n```"}


def process_notebooks(root:Path=ROOT)->None:
    """nbdev_proc_nbs (nbdev's docs processors: show_doc run, hidden cells dropped, front matter) with a no-op `quarto`
    first on PATH: nbdev calls it, and Quarto cannot be installed here."""
    import os, stat, tempfile
    with tempfile.TemporaryDirectory() as fake:
        quarto = Path(fake)/"quarto"; quarto.write_text("#!/bin/sh\nexit 0\n"); quarto.chmod(quarto.stat().st_mode | stat.S_IEXEC)
        env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
        nbdev = Path(sys.executable).parent/"nbdev_proc_nbs"
        run = subprocess.run([str(nbdev) if nbdev.exists() else "nbdev_proc_nbs"], cwd=root, env=env)
    if run.returncode: raise SystemExit(f"docs: nbdev_proc_nbs failed ({run.returncode})")


def build(src:Path, site:Path)->None:
    "sphinx-build with warnings as errors: an unresolved toctree entry, reference or image fails the build."
    if site.exists(): shutil.rmtree(site)
    run = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-j", "auto", str(src), str(site)])
    if run.returncode: raise SystemExit(f"docs: sphinx-build failed ({run.returncode}); see the warnings above")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proc", type=Path, default=ROOT/"_proc")
    parser.add_argument("--src", type=Path, default=ROOT/"_docs_src")
    parser.add_argument("--site", type=Path, default=ROOT/"_site")
    parser.add_argument("--no-proc", action="store_true", help="use _proc/ as it is (skip nbdev_proc_nbs)")
    args = parser.parse_args()
    if not args.no_proc: process_notebooks()
    pages = stage(args.proc, args.src, ROOT/"nbs")
    build(args.src, args.site)
    shutil.rmtree(ROOT/"jupyter_execute", ignore_errors=True)  # myst-nb's scratch folder beside the output
    print(f"docs: {len(pages)} pages from {args.proc} in {args.site}")
