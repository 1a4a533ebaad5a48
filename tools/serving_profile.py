"""Issue 25: where a served request's time goes on this CPU, written to nbs/data/cpu_serving_profile.json (nbs/86_serving_load
renders it). Every part measured in one run, each measurement held back until the shared machine is quiet and stamped with
the cores the rest of the machine used meanwhile:

- stages: CPU milliseconds per audio second of each stage of one request (resampling, Praat's f0, each component of the
  chain, the loudness match, the glue between them), single-threaded, for ONNX Runtime fp32 and torch eager fp32;
- batching: CPU seconds of the load test's 12 requests converted one by one, together (`convert_batch`: chunks of one
  shape share a run), and padded to the longest (what length buckets would cost);
- threads: the product's path (prepare + chain) in one process, sequential or two runs side by side, with torch's and
  ONNX Runtime's threads at 1 or 2: which split of the 2 cores converts most audio per second;
- server: the CPU each process of a live `serve` uses per audio second (the server's Python process, tritonserver, its
  python-backend stubs, the clients) at 1 and 8 clients, and Triton's own queue and compute times per request; with the
  serving defaults and with one chain run at a time (`--chains 1`, what `serve` did before).

    python tools/serving_profile.py --out nbs/data/cpu_serving_profile.json
"""
import argparse, dataclasses, os, tempfile, threading, time
from pathlib import Path

import numpy as np
import torch

from autovoice_trt.config import COMPONENTS, load_config
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.core import write_json_atomic
from autovoice_trt.evaluation.benchmark import environment_stamp
from autovoice_trt.graphs.folder import export_components
from autovoice_trt.pipeline import STAGES, ConversionInputs, convert_batch, prepare_inputs
from autovoice_trt.runtime import Workspace, make_runners, runner_spec
from autovoice_trt.serving.load import (batch_counts, drive_clients, free_ports, infer, load_cases, machine_cpu_s, serve_python,
                                        served, wait_for_quiet)


def quiet_measure(work, quiet_cores):
    "Wait for a quiet machine, run `work`: (its result, wall s, this process's CPU s, the other processes' cores meanwhile)."
    wait_for_quiet(quiet_cores)
    machine, mine, t0 = machine_cpu_s(), time.process_time(), time.perf_counter()
    result = work()
    wall, cpu = time.perf_counter() - t0, time.process_time() - mine
    return result, wall, cpu, max(0.0, (machine_cpu_s() - machine) / wall - cpu / wall)


class Requests:
    "The load test's requests, prepared once on the host, and the conversions the profile runs on them."
    def __init__(self, svc, cases):
        self.svc, self.cases, self.m, self.c = svc, cases, svc.config.model, svc.config.conversion
        self.profiles = {k: svc.config.tensorrt.voice_conversion.profile(k) for k in COMPONENTS}
        self.audio_s = sum(x["source_audio"].shape[-1] for x in cases) / self.m.output_sample_rate_hz
        self.rows = [self.prepare(x) for x in cases]

    def prepare(self, case, timing=None):
        return prepare_inputs(case["source_audio"][0], self.m.output_sample_rate_hz, case["speaker_embedding"][0], self.m, self.c,
                              pitch_shift=float(case["pitch_shift"][0, 0]), timing=timing)

    def convert(self, runners, rows, timing=None): return convert_batch(runners, rows, self.m, self.c, self.svc.contracts, self.profiles, timing)

    def padded(self, runners):
        "Every row padded with silence to the longest row and converted together (one shape, batches of the profiles' limit): what batching by length buckets would compute."
        longest = max(self.rows, key=lambda u: u.n_frames)
        pad = lambda a, n: np.pad(a, (0, n - len(a)))
        rows = [ConversionInputs(pad(u.audio_16k, len(longest.audio_16k)), pad(u.audio_out, len(longest.audio_out)), pad(u.f0_hz, longest.n_frames),
                                 pad(u.voiced, longest.n_frames), u.speaker, torch.nn.functional.pad(u.noise, (0, longest.n_frames - u.n_frames))) for u in self.rows]
        return self.convert(runners, rows)


def stages(requests, runners, quiet_cores, repeats=3):
    "CPU ms per audio second of each stage, single-threaded: the least of `repeats` passes over every request (prepare, then the chain)."
    best = None
    for _ in range(repeats):
        timing = {k: 0.0 for k in STAGES}
        def one_pass():
            for case in requests.cases: requests.convert(runners, [requests.prepare(case, timing)], timing)
        _, wall, cpu, others = quiet_measure(one_pass, quiet_cores)
        if best is None or cpu < best["cpu_ms_per_audio_s"] * requests.audio_s / 1000:
            per = {k: 1000 * timing[k] / requests.audio_s for k in STAGES}
            best = {"cpu_ms_per_audio_s": 1000 * cpu / requests.audio_s, "wall_ms_per_audio_s": 1000 * wall / requests.audio_s,
                    "stages_ms_per_audio_s": per | {"glue": 1000 * wall / requests.audio_s - sum(per.values())}, "others_cores": others}
    return best


def batching(requests, runners, quiet_cores, repeats=3):
    "CPU ms per audio second of the chain over the prepared rows: one by one, together, padded to the longest; in turn, the least of `repeats`."
    ways = {"one by one": lambda: [requests.convert(runners, [u]) for u in requests.rows], "together (chunks of one shape share a run)": lambda: requests.convert(runners, requests.rows),
            "padded to the longest (length buckets)": lambda: requests.padded(runners)}
    for way in ways.values(): way()
    measured = {k: [] for k in ways}
    for _ in range(repeats):
        for k, way in ways.items():
            _, wall, cpu, others = quiet_measure(way, quiet_cores)
            measured[k].append({"cpu_ms_per_audio_s": 1000 * cpu / requests.audio_s, "others_cores": others})
    return {k: min(v, key=lambda r: r["cpu_ms_per_audio_s"]) | {"rounds": [r["cpu_ms_per_audio_s"] for r in v]} for k, v in measured.items()}


def threads(requests, svc, workspace, quiet_cores, default, rounds=3):
    "Audio seconds per second of the product's path (prepare + chain per request), sequential or side by side, at each split of the cores (`default`: torch's own thread count)."
    runner_sets = {n: make_runners(dataclasses.replace(runner_spec("onnxruntime"), threads=n), svc, workspace) for n in (0, 1)}
    splits = [(default, 0, 1), (1, 0, 1), (1, 1, 1), (1, 1, 2), (1, 0, 2), (default, 1, 2)]
    def way(torch_threads, ort_threads, side_by_side):
        def run():
            torch.set_num_threads(torch_threads)
            work = [threading.Thread(target=lambda j=j: [requests.convert(runner_sets[ort_threads], [requests.prepare(x)]) for x in requests.cases[j::side_by_side]])
                    for j in range(side_by_side)]
            for t in work: t.start()
            for t in work: t.join()
        return run
    for split in splits: way(*split)()
    measured = {split: [] for split in splits}
    for _ in range(rounds):
        for split in splits:
            _, wall, cpu, others = quiet_measure(way(*split), quiet_cores)
            measured[split].append({"audio_s_per_s": requests.audio_s / wall, "cores": cpu / wall, "others_cores": others})
    torch.set_num_threads(default)
    rows = []
    for (t, o, k), runs in measured.items():
        median = sorted(runs, key=lambda r: r["audio_s_per_s"])[len(runs) // 2]
        rows.append({"torch_threads": t, "onnxruntime_threads": o or "default (a thread per core)", "runs_side_by_side": k, **median,
                     "audio_s_per_s_rounds": [r["audio_s_per_s"] for r in runs], "others_cores_rounds": [r["others_cores"] for r in runs]})
    return rows


def own_cpu_s(pids):
    "CPU seconds of these processes alone (not those under them)."
    import psutil
    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


def server(graphs, weights, cases, references, quiet_cores, serve_args=(), clients=(1, 8), requests_per_level=96):
    "A live `serve` (the config's defaults, then `serve_args`): CPU ms per audio second of each process, and Triton's queue and compute ms per request, at each client count."
    import psutil, tritonclient.http as http
    config = load_config()
    ports = free_ports(3)
    args = ["--backend", "onnxruntime", "--onnx-dir", str(graphs), "--precision", "fp32", "--weights", weights,
            "--address", "127.0.0.1", "--http-port", ports[0], "--grpc-port", ports[1], "--metrics-port", ports[2], *serve_args]
    rows = []
    with served(serve_python(), args) as ready:
        client = http.InferenceServerClient(ready["http"], network_timeout=300)
        for case in cases: infer(client, ready["model"], case)
        drive_clients(ready["http"], config, cases, references, 4 * len(cases), max(clients))  # warm: every runner set meets every shape
        root = psutil.Process(ready["pid"])
        groups = {"serve (the service, PyTriton)": [root.pid]} | {name: [p.pid for p in root.children(recursive=True) if p.name() == name]
                                                                 for name in ("tritonserver", "triton_python_backend_stub")}
        token = {"triton-access-token": ready["access_token"]}
        def triton_ms():
            stats = client.get_inference_statistics(ready["model"], headers=token)["model_stats"][0]["inference_stats"]
            return {k: (int(stats[k]["ns"]), int(stats[k]["count"])) for k in ("queue", "compute_input", "compute_infer", "compute_output")}
        for n in clients:
            wait_for_quiet(quiet_cores)
            before = {g: own_cpu_s(pids) for g, pids in groups.items()} | {"load-test clients (this process)": time.process_time()}
            stats0, machine = triton_ms(), machine_cpu_s()
            results, wall = drive_clients(ready["http"], config, cases, references, requests_per_level, n)
            after = {g: own_cpu_s(pids) for g, pids in groups.items()} | {"load-test clients (this process)": time.process_time()}
            stats1, machine = triton_ms(), machine_cpu_s() - machine
            audio_s = sum(r["audio_s"] for r in results)
            ours = sum(after[g] - before[g] for g in before)
            rows.append({"clients": n, "requests": len(results), "ok": sum(1 for r in results if not r["error"] and r["snr_db"] >= 60.0),
                         "audio_s_per_s": audio_s / wall, "cpu_ms_per_audio_s": {g: 1000 * (after[g] - before[g]) / audio_s for g in before},
                         "ours_cores": ours / wall, "others_cores": max(0.0, (machine - ours) / wall),
                         "triton_ms_per_request": {k: (stats1[k][0] - stats0[k][0]) / 1e6 / max(1, stats1[k][1] - stats0[k][1]) for k in stats1},
                         "client_latency_ms_p50": float(np.percentile([r["seconds"] for r in results], 50) * 1000)})
        rows[-1]["batches"] = batch_counts(client, ready["model"], ready["access_token"])
    return {"serving": ready["serving"], "levels": rows}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--weights", default="trained")
    parser.add_argument("--quiet-cores", type=float, default=0.3, help="wait before each measurement until the rest of the machine uses fewer cores")
    args = parser.parse_args()
    t0, load_before, torch_threads = time.perf_counter(), os.getloadavg(), torch.get_num_threads()
    graphs = Path(tempfile.mkdtemp(prefix="serving-profile-"))/"graphs"; graphs.mkdir()
    export_components(load_config(), graphs, weights=args.weights)
    svc = SingingVoiceConverter(load_config(), weights=args.weights)
    workspace = Workspace(graphs, make=False)
    requests = Requests(svc, load_cases(svc))
    torch.set_num_threads(1)
    single = {"onnxruntime fp32": make_runners(dataclasses.replace(runner_spec("onnxruntime"), threads=1), svc, workspace),
              "torch eager fp32": make_runners(runner_spec("torch"), svc)}
    for runners in single.values(): requests.convert(runners, requests.rows)  # warm-up
    report = {"stages": {name: stages(requests, runners, args.quiet_cores) for name, runners in single.items()},
              "batching": batching(requests, single["onnxruntime fp32"], args.quiet_cores)}
    report["threads"] = threads(requests, svc, workspace, args.quiet_cores, torch_threads)
    references = [svc.convert(c["source_audio"][0], svc.config.model.output_sample_rate_hz, c["speaker_embedding"][0], float(c["pitch_shift"][0, 0]),
                              runners=svc.runners("onnxruntime", "fp32", graphs)) for c in requests.cases]
    report["server"] = {"the defaults (a run per core, one thread each; a run alone on both)": server(graphs, args.weights, requests.cases, references, args.quiet_cores),
                        "--chains 1 (one run at a time on every core, as before issue 25's change)": server(graphs, args.weights, requests.cases, references, args.quiet_cores, ["--chains", "1"])}
    write_json_atomic(args.out, {"environment": environment_stamp("cpu") | {"cpu_threads": torch_threads, "cpu_count": os.cpu_count(), "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()}},
                                 "script": "tools/serving_profile.py", "requests": {"count": len(requests.cases), "audio_s": requests.audio_s,
                                 "lengths_s": sorted({round(x["source_audio"].shape[-1] / svc.config.model.output_sample_rate_hz, 2) for x in requests.cases})},
                                 "quiet_cores": args.quiet_cores, **report, "seconds_total": round(time.perf_counter() - t0, 1)})
    print(f"written {args.out} in {time.perf_counter() - t0:.0f} s")
