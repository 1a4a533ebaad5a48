"""Open every page of the built site (`_site/`, from tools/docs.py) in headless Chromium and fail on what a reader would
meet: a page that does not load, a request that fails or answers >= 400, a console error or an uncaught exception, an
image that does not render, an internal link to a missing page or to a missing anchor, Quarto or nbdev syntax left
visible (front matter, `{target=...}` attributes, `#|` directives, `In [n]:` prompts), and a search that finds nothing.

    python tools/check_site.py [--site _site] [--chromium /usr/bin/chromium]

Chromium is Debian's package (`apt-get install chromium`; `.ci/run` installs it), driven by Playwright's Python client
(`playwright` in the dev extra; its own browser download is never used). The pages are served from a local HTTP server,
as a user's static host would. Screenshots of the index and two pages go to `<site>/_screenshots/`.
"""
from __future__ import annotations

import argparse, functools, http.server, re, shutil, sys, threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/run installs it); tests/test_explorer_browser.py drives the same one
# As the environment's Chromium runs headless as root: no sandbox, and nothing that reaches for Google's services.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
LEFTOVERS = {"Quarto link attributes": re.compile(r"\{target=|\{\.[a-z-]+\}"),
             "a cell directive": re.compile(r"^#\| ", re.M),
             "front matter": re.compile(r"^(output-file|description|title): ", re.M),
             "an input prompt": re.compile(r"^In \[\d*\]:", re.M)}
PROSE_LEFTOVERS = {"a Markdown table left as text": re.compile(r"^\|.*\|[ \t]*$", re.M)}  # outside code blocks
SCREENSHOTS = {"index.html": "index.png", "pipeline.html": "pipeline.png", "guides/performance.html": "guide_performance.png"}
SEARCH = ("prepare_inputs", "pipeline.html")  # a query and a page its results must include

PAGE_JS = """() => ({
  images: [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id).concat([...document.querySelectorAll('a[name]')].map(a => a.name)),
  text: document.body ? document.body.innerText : '',
  prose: (() => { if (!document.body) return ''; const b = document.body.cloneNode(true);
                  b.querySelectorAll('pre, code, script, style').forEach(e => e.remove());
                  document.documentElement.appendChild(b); const t = b.innerText; b.remove(); return t; })(),
  title: document.title,
})"""


def serve(site:Path)->tuple[http.server.ThreadingHTTPServer, str]:
    "The site on a free loopback port, quietly."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def site_path(site:Path, url:str, base:str)->Path|None:
    "The file an internal URL names (None: the URL is not on this site)."
    if not url.startswith(base): return None
    path = unquote(urlparse(url).path)[len(urlparse(base).path):]
    return site/(path + "index.html" if path.endswith("/") or not path else path)


def leftovers(text:str, prose:str="")->list[str]:
    "Which Quarto / nbdev syntax is visible in a page's text (and, in its prose outside code blocks, unrendered Markdown)."
    return [what for what, pattern in LEFTOVERS.items() if pattern.search(text)] + \
           [what for what, pattern in PROSE_LEFTOVERS.items() if pattern.search(prose)]


def check_site(site:Path, chromium:str)->tuple[dict, list[str]]:
    "Open every page; returns (counts, problems)."
    from playwright.sync_api import sync_playwright
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if not p.relative_to(site).parts[0].startswith("_sources"))
    server, base = serve(site)
    problems: list[str] = []
    seen: dict[str, dict] = {}
    shots = site/"_screenshots"
    if shots.exists(): shutil.rmtree(shots)
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        current = {"name": ""}
        page.on("console", lambda m: m.type == "error" and problems.append(f"{current['name']}: console error: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"{current['name']}: uncaught exception: {e}"))
        # ERR_ABORTED: a request still in flight (the favicon) when this check moves to the next page; a missing file answers 404
        page.on("requestfailed", lambda r: r.failure != "net::ERR_ABORTED" and problems.append(f"{current['name']}: request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and problems.append(f"{current['name']}: {r.url} answered {r.status}"))
        for name in pages:
            current["name"] = name
            response = page.goto(base + name, wait_until="load")
            if response is None or not response.ok:
                problems.append(f"{name}: did not load ({response.status if response else 'no response'})"); continue
            info = page.evaluate(PAGE_JS)
            seen[name] = info
            problems += [f"{name}: image does not render: {i['src']}" for i in info["images"] if not i["ok"]]
            if not name.startswith("_modules/"):
                problems += [f"{name}: {what} visible" for what in leftovers(info["text"], info["prose"])]
            if not info["title"].strip(): problems.append(f"{name}: no <title>")
            if name in SCREENSHOTS: page.screenshot(path=str(shots/SCREENSHOTS[name]))
        missing_shots = [n for n in SCREENSHOTS if n not in seen]
        if missing_shots: problems.append(f"pages to screenshot were not built: {missing_shots}")
        current["name"] = "search.html"
        query, expected = SEARCH
        page.goto(f"{base}search.html?q={query}", wait_until="load")
        try:
            page.wait_for_selector("ul.search li", timeout=15000)
            hits = page.eval_on_selector_all("ul.search li a", "els => els.map(e => e.href)")
            if not any(expected in h for h in hits): problems.append(f"search for {query!r}: {expected} not among {len(hits)} results")
        except Exception as e:
            problems.append(f"search for {query!r} showed no results ({type(e).__name__})")
        page.screenshot(path=str(shots/"search.png"))
        browser.close()
    server.shutdown()
    internal = external = 0
    for name, info in seen.items():
        for url in info["links"]:
            target, fragment = urldefrag(url)
            path = site_path(site, target, base)
            if path is None:
                external += urlparse(url).scheme in ("http", "https"); continue
            internal += 1
            if not path.is_file(): problems.append(f"{name}: link to a missing page: {url[len(base):]}"); continue
            key = path.relative_to(site).as_posix()
            if fragment and key in seen and unquote(fragment) not in seen[key]["ids"]:
                problems.append(f"{name}: link to a missing anchor: {url[len(base):]}")
    counts = {"pages": len(seen), "internal links": internal, "external links (not followed)": external,
              "images": sum(len(i["images"]) for i in seen.values()), "screenshots": sorted(p.name for p in shots.glob("*.png"))}
    return counts, problems


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, default=ROOT/"_site")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        sys.exit(f"check_site: no Chromium at {args.chromium}: install Debian's package (apt-get install chromium), or pass --chromium")
    if not (args.site/"index.html").exists(): sys.exit(f"check_site: {args.site}/index.html does not exist: run python tools/docs.py first")
    counts, problems = check_site(args.site, args.chromium)
    for k, v in counts.items(): print(f"{k}: {v}")
    if problems:
        print(f"FAILED: {len(problems)} problems")
        for p in problems[:200]: print("  " + p)
        sys.exit(1)
    print(f"site check: every page loads, links and images resolve, no console errors; screenshots in {args.site/'_screenshots'}")
