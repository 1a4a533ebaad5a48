"""The precision table of nbs/60_accuracy on the *reference* weights, for the trained-against-reference comparison there.
Runs `evaluation.accuracy.measure_precision` (the notebook's own function) and writes nbs/data/cpu_precision_reference_weights.json.
Run from the repo root: python tools/cpu_precision_reference.py"""
import argparse, datetime, json, platform, tempfile
from pathlib import Path

import onnxruntime, torch

from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.evaluation.accuracy import measure_precision

if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__).parse_args()  # no options: --help says what it does
    svc = SingingVoiceConverter(weights="reference")
    with tempfile.TemporaryDirectory() as d: rows, _, _ = measure_precision(svc, d)
    stamp = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "machine": f"{platform.machine()} {platform.processor()}".strip(),
             "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "threads": torch.get_num_threads(), "weights": svc.weights}
    Path("nbs/data/cpu_precision_reference_weights.json").write_text(json.dumps(stamp | {"rows": rows}, indent=1, default=float) + "\n")
    print(json.dumps(stamp))
