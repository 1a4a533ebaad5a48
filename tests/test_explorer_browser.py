"""The explorer as a user meets it (issue 28): JupyterLab started here on loopback with a token, a copy of
nbs/88_explorer.ipynb opened in Chromium (Debian's, driven by Playwright as tools/check_site.py drives it), Run > Run All
Cells, Convert with the defaults, a WAV uploaded and converted with ONNX Runtime fp32, then a file that is not audio.
Checks what the user sees: what opening the notebook changes (only the kernel metadata JupyterLab writes), the status
lines, both players (loaded without a media error; starting one pauses the other), the figure, and no page errors, console
errors or failed responses on the way. The server is stopped by its process group in a `finally`, whatever happened.

Set AUTOVOICE_EXPLORER_SCREENSHOT=path.png to keep a screenshot of the finished upload conversion (nbs/images/explorer.png
was taken that way)."""
import ctypes, importlib.util, json, os, secrets, shutil, signal, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest
from ipykernel.ipkernel import IPythonKernel
from jupyter_client.kernelspec import KernelSpecManager

from autovoice_trt.audio.io import resample, write_audio
from autovoice_trt.audio.synth import synth_singing
from autovoice_trt.serving.load import free_ports

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT/"nbs"/"88_explorer.ipynb"
_spec = importlib.util.spec_from_file_location("check_site", ROOT/"tools"/"check_site.py")
check_site = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(check_site)  # its Chromium and flags

ERROR = "error:"  # what the explorer's status line starts with when a conversion was refused
PRECISION = ".explorer .widget-dropdown:has(.widget-label:text-is('precision')) select"
SINGER = ".explorer .widget-label:text-is('singer')"
PLAYERS_JS = """() => [...document.querySelectorAll('.explorer audio')].map(a => ({
  src: (a.currentSrc || a.src).slice(0, 40), loop: a.loop, autoplay: a.autoplay, ready: a.readyState, seconds: a.duration,
  error: a.error && a.error.message, paused: a.paused, ended: a.ended, at: a.currentTime}))"""
KERNEL_READY_JS = """() => { const name = [...document.querySelectorAll('.jp-Toolbar-kernelName')].find(e => e.offsetParent),
  state = [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator')].find(e => e.offsetParent);
  return name && name.innerText.startsWith('Python') && state && state.dataset.status === 'idle'; }"""
OUTPUTS_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output')].map(o => o.textContent).join('\\n')"""  # rendered or not
RAN_ALL_JS = """() => document.querySelector('.explorer button.explorer-convert') ||
  [...document.querySelectorAll('.jp-OutputArea-output')].some(o => o.textContent.includes('Traceback'))"""
WATCH_BUTTON_JS = """() => { const button = document.querySelector('.explorer button.explorer-convert'); window.convertPressed = false;
  new MutationObserver(() => { if (button.disabled) window.convertPressed = true; }).observe(button, {attributes: true}); }"""
FIGURE_JS = """() => [...document.querySelectorAll('.explorer img')].map(i => ({
  ok: i.complete && i.naturalWidth > 0, natural: i.naturalWidth, shown: i.getBoundingClientRect().width,
  room: i.closest('.jp-OutputArea-output').getBoundingClientRect().width}))"""


def own_group():
    """In the server's process before it starts: a process group of its own (stopped as one), and SIGTERM when this test's
    process dies without reaching its `finally` (tools/test.sh stopping the pytest stage), so no server outlives the test."""
    os.setsid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_lab(folder:Path, log:Path)->tuple[subprocess.Popen, str]:
    "JupyterLab on a free loopback port with a token, serving `folder`, in its own process group; returns (process, base URL with token)."
    port, token = free_ports(1)[0], secrets.token_hex(16)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           **{name: str(folder.parent/sub) for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
              ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")]}}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    notification = folder.parent/"settings"/"@jupyterlab"/"apputils-extension"/"notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))  # no "get notified about news?" toast over the page
    if os.geteuid() == 0: command.append("--allow-root")  # JupyterLab refuses root without it (containers, CI)
    with open(log, "wb") as out:
        lab = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, preexec_fn=own_group)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    while time.monotonic() < deadline:
        if lab.poll() is not None: raise AssertionError(f"jupyter lab exited ({lab.returncode}): {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r: json.load(r); return lab, f"{base}/lab/tree/{{}}?token={token}"
        except OSError: time.sleep(0.25)
    raise AssertionError(f"jupyter lab did not answer within 60 s: {log.read_text()[-3000:]}")


def stop_lab(lab:subprocess.Popen):
    "SIGTERM to the server's process group (server and kernels), SIGKILL after 10 s."
    for how, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try: os.killpg(lab.pid, how)
        except ProcessLookupError: return
        try: lab.wait(wait_s); return
        except subprocess.TimeoutExpired: pass


def status(page)->str:
    return page.inner_text(".explorer .explorer-status").strip()


def precisions(page)->list[str]:
    return page.eval_on_selector(PRECISION, "select => [...select.options].map(o => o.value)")


def convert(page, timeout_s:float=120)->str:
    "Press Convert and wait until the kernel has disabled the button for the work and enabled it again; returns the status line."
    page.evaluate(WATCH_BUTTON_JS)
    page.click(".explorer button.explorer-convert")
    page.wait_for_function("() => window.convertPressed && !document.querySelector('.explorer button.explorer-convert').disabled",
                           timeout=timeout_s * 1000)
    return status(page)


def upload(page, name:str, content:bytes):
    "Choose a file with the upload button, as a user does in the browser's file chooser; wait until the button counts it."
    with page.expect_file_chooser() as chooser: page.click(".explorer .widget-upload")
    chooser.value.set_files([{"name": name, "mimeType": "audio/wav", "buffer": content}])
    page.wait_for_selector(".explorer .widget-upload:has-text('(1)')", timeout=10000)


def players(page, seconds:tuple[float, float]):
    "Both players hold a WAV of the expected lengths (source, output), loaded by the browser without a media error; neither loops nor plays by itself."
    page.wait_for_function("() => { const a = [...document.querySelectorAll('.explorer audio')]; return a.length == 2 && a.every(x => x.readyState >= 1 || x.error); }",
                           timeout=20000)
    found = page.evaluate(PLAYERS_JS)
    assert [(p["src"][:15], p["error"], p["loop"], p["autoplay"], p["paused"]) for p in found] == [("data:audio/wav;", None, False, False, True)] * 2, found
    assert all(abs(p["seconds"] - s) < 0.05 for p, s in zip(found, seconds)), (found, seconds)


def one_at_a_time(page):
    "Start the source's player with its play button, then the output's: the source's pauses before its end (the 'play' event comes a task after the click). Then pause the output's."
    from playwright.sync_api import TimeoutError as Timeout
    audio = page.locator(".explorer audio")
    for k in (0, 1):
        box = audio.nth(k).bounding_box()
        audio.nth(k).click(position={"x": 26, "y": box["height"] / 2})  # the play button, left in Chromium's control bar
        page.wait_for_function("k => !document.querySelectorAll('.explorer audio')[k].paused", arg=k, timeout=5000)  # it started
    try: page.wait_for_function("() => { const [a, b] = document.querySelectorAll('.explorer audio'); return a.paused && !a.ended && !b.paused; }", timeout=5000)
    except Timeout: raise AssertionError(f"both players play at once: {page.evaluate(PLAYERS_JS)}") from None
    audio.nth(1).evaluate("a => a.pause()")


def figure(page):
    "The figure is a PNG the browser decoded, shown at its own width (not stretched) and within the cell."
    found = page.evaluate(FIGURE_JS)
    assert len(found) == 1 and found[0]["ok"], found
    assert abs(found[0]["shown"] - found[0]["natural"]) <= 1 and found[0]["shown"] <= found[0]["room"], found


def test_explorer_in_jupyterlab(tmp_path):
    from playwright.sync_api import sync_playwright
    if not Path(check_site.CHROMIUM).exists(): pytest.fail(f"no Chromium at {check_site.CHROMIUM}: install Debian's package (apt-get install chromium)")
    folder = tmp_path/"notebooks"; folder.mkdir()
    (folder/NOTEBOOK.name).write_bytes(NOTEBOOK.read_bytes())  # a copy: JupyterLab saves what it runs, nbs/ stays as it is
    shutil.copytree(NOTEBOOK.parent/"images", folder/"images")  # the pictures its Markdown shows
    rate = 44100
    tenor = resample(synth_singing(1.5, 22050, "tenor", seed=3).audio, 22050, rate)
    wav = write_audio(tmp_path/"my tenor.wav", tenor, rate).read_bytes()
    problems, started = [], time.monotonic()
    lab, url = start_lab(folder, tmp_path/"lab.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=check_site.CHROMIUM, headless=True, args=check_site.CHROMIUM_FLAGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
            page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
            page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
            page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.url.split('?')[0]} answered {r.status}"))
            page.goto(url.format(NOTEBOOK.name), wait_until="load")
            page.wait_for_function(KERNEL_READY_JS, timeout=90000)  # the kernel started and answered
            assert "Error displaying widget" not in page.evaluate(OUTPUTS_JS), "a saved widget output points at a model that is gone"
            # Opening marks the notebook changed, and only by what JupyterLab writes when the kernel starts: the kernel's
            # display name and its language_info (with this Python's exact version), which nbdev_clean keeps out of the
            # committed notebooks (display_name = name, no language_info) because both differ from machine to machine.
            # Saved now, the copy is the committed notebook with exactly those two writes.
            page.locator(".jp-Notebook:visible").first.click(); page.keyboard.press("Control+s")
            page.wait_for_selector(f".lm-TabBar-tab:has-text('{NOTEBOOK.name}'):not(.jp-mod-dirty)", timeout=10000)
            saved, committed = (json.loads(path.read_text()) for path in (folder/NOTEBOOK.name, NOTEBOOK))
            assert saved["cells"] == committed["cells"], [c["id"] for c, d in zip(saved["cells"], committed["cells"]) if c != d]
            kernel = KernelSpecManager().get_kernel_spec(committed["metadata"]["kernelspec"]["name"])
            assert saved["metadata"] == {**committed["metadata"], "kernelspec": {**committed["metadata"]["kernelspec"], "display_name": kernel.display_name},
                                         "language_info": IPythonKernel.language_info}, (saved["metadata"], committed["metadata"])

            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Run All Cells'))")
            page.wait_for_function(RAN_ALL_JS, timeout=240000)  # the explorer is shown, or a cell failed
            page.wait_for_function(KERNEL_READY_JS, timeout=60000)
            outputs = page.evaluate(OUTPUTS_JS)
            assert "Traceback" not in outputs and "Error displaying widget" not in outputs, outputs[-3000:]
            ran_all = time.monotonic() - started  # JupyterLab started, the notebook opened, every cell run
            # before the first conversion: no players, no image, nothing to report
            assert page.evaluate(PLAYERS_JS) == [] and page.evaluate(FIGURE_JS) == [] and status(page) == ""
            assert problems == [], problems
            assert (precisions(page), page.input_value(PRECISION)) == (["fp32", "fp16"], "fp32")  # torch's, one chosen

            line = convert(page)  # the defaults: the synthetic tenor, 1 s, PyTorch fp32
            assert line.startswith("torch fp32: 1.00 s converted in") and "log-mel SNR inf dB" in line, line
            players(page, (1.0, 1.0)); figure(page)
            assert problems == [], problems

            assert page.is_visible(SINGER)
            upload(page, "my tenor.wav", wav)
            page.wait_for_selector(".explorer .widget-toggle-button.mod-active:has-text('upload')", timeout=10000)  # the upload is the source now
            assert not page.is_visible(SINGER), "synthetic-only controls still shown for an upload"
            page.select_option(".explorer .widget-dropdown:has(.widget-label:text-is('backend')) select", "onnxruntime")
            page.wait_for_function("select => select.options.length == 3", arg=page.query_selector(PRECISION), timeout=10000)
            assert (precisions(page), page.input_value(PRECISION)) == (["fp32", "fp16", "int8"], "fp32")  # the precision follows the backend
            line = convert(page)
            assert line.startswith("onnxruntime fp32: 1.50 s converted in") and " sings (" in line, line
            players(page, (1.5, 1.5)); figure(page)
            assert problems == [], problems
            shown = page.inner_text(".explorer")
            assert "source: my tenor.wav" in shown and "log_mel" in shown and "Does it sing?" in shown, shown  # the labels and the tables
            if os.environ.get("AUTOVOICE_EXPLORER_SCREENSHOT"): page.locator(".explorer").screenshot(path=os.environ["AUTOVOICE_EXPLORER_SCREENSHOT"])
            one_at_a_time(page)
            assert problems == [], problems

            upload(page, "notes.wav", b"these are not samples")
            line = convert(page)
            assert line.startswith(f"{ERROR} audio file 'notes.wav' (21 bytes) could not be decoded") and "\n" not in line, line
            assert page.evaluate(PLAYERS_JS) == [] and page.evaluate(FIGURE_JS) == [], ("a refused upload left the last conversion's outputs", problems)
            browser.close()
    finally:
        stop_lab(lab)
    assert problems == [], problems
    print(f"JupyterLab up and every cell run in {ran_all:.0f} s; the whole test {time.monotonic() - started:.0f} s")
