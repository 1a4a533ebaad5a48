"""Quantization-aware fine-tuning of the vocoder for its int8 Q/DQ graph (issue 26), on a GPU (or the CPU with tiny settings):

    python tools/int8_qat.py --out DIR [--voices 96] [--steps 4000] [--max-seconds 330] [--device cuda]

writes DIR/vocoder_int8_qat.safetensors (the fine-tuned vocoder, its learned activation ranges and the base weights' hash in
the metadata) and DIR/h200_int8_qat.json (the stamped report: held-out worst-clip log-mel SNR of the fake-quant vocoder
against the fp32 vocoder before and after, the log)."""
import argparse, time
from pathlib import Path

import torch

from autovoice_trt.config import load_config
from autovoice_trt.core import write_json_atomic
from autovoice_trt.converter import SingingVoiceConverter
from autovoice_trt.training_int8 import QAT_WEIGHTS_NAME, qat_vocoder, save_qat_vocoder
from autovoice_trt.training import DataRecipe, heldout_set, training_set
from autovoice_trt.evaluation.benchmark import environment_stamp

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True); p.add_argument("--voices", type=int, default=96); p.add_argument("--clips-per-voice", type=int, default=2)
    p.add_argument("--heldout-clips-per-voice", type=int, default=2)
    p.add_argument("--steps", type=int, default=4000); p.add_argument("--max-seconds", type=float, default=None)
    p.add_argument("--batch", type=int, default=32); p.add_argument("--lr", type=float, default=5e-5); p.add_argument("--log-every", type=int, default=250)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu"); p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()
    t0, out = time.perf_counter(), Path(a.out); out.mkdir(parents=True, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # the fp32 teacher as the fp32 graph computes it
    cfg = load_config(); svc = SingingVoiceConverter(cfg)
    recipe = DataRecipe(voices=a.voices, clips_per_voice=a.clips_per_voice, heldout_clips_per_voice=a.heldout_clips_per_voice, seed=20_000_000)
    train, held = training_set(recipe, cfg, a.workers), heldout_set(recipe, cfg, a.workers)
    data_s = time.perf_counter() - t0
    vocoder, ranges, report = qat_vocoder(svc, train, held, a.steps, a.device, a.batch, lr=a.lr, log_every=a.log_every, max_seconds=a.max_seconds)
    path = save_qat_vocoder(out/QAT_WEIGHTS_NAME, svc, vocoder, ranges, report | {"recipe": vars(recipe)})
    write_json_atomic(out/"h200_int8_qat.json", {"what": "int8 QAT of the vocoder (issue 26): tools/int8_qat.py", "stamp": environment_stamp(a.device),
                                                 "args": vars(a), "recipe": vars(recipe), "data_seconds": round(data_s, 1),
                                                 "seconds_total": round(time.perf_counter() - t0, 1), "weights_file": path.name} | report)
    print({k: report[k] for k in ("steps", "heldout_before", "heldout_after")}, flush=True)

if __name__ == "__main__": main()
