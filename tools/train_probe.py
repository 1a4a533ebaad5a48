"""Feasibility probe for issue 11 (not the training notebook): how fast the vocoder trains on an H200 from synthetic
singing, and how far mel + multi-resolution STFT losses take its resynthesis log-mel SNR in a few minutes.
Writes $OUT/train_probe.json. Run from the repo root on the GPU machine."""
import json, math, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn.functional as F

from autovoice_trt.audio.synth import VOICES, synth_singing
from autovoice_trt.config import load_config
from autovoice_trt.evaluation.compare import log_mel_snr_db
from autovoice_trt.models.frontend import output_frontend
from autovoice_trt.models.voice_model import VoiceModel

SECONDS, CLIPS, TRAIN_S = 2.0, int(os.environ.get("CLIPS", 768)), float(os.environ.get("TRAIN_S", 300))
BATCH, SEGMENT_FRAMES, LR = int(os.environ.get("BATCH", 32)), 32, float(os.environ.get("LR", 1e-3))


def clip(i: int) -> np.ndarray:
    voice = sorted(VOICES)[i % len(VOICES)]
    return synth_singing(SECONDS, voice=voice, seed=100_000 + i).audio


def stft_loss(y, x, sizes=((512, 128), (1024, 256), (2048, 512))):
    total = 0.0
    for n_fft, hop in sizes:
        w = torch.hann_window(n_fft, device=y.device)
        Y = torch.stft(y, n_fft, hop, window=w, return_complex=True).abs().clamp_min(1e-5)
        X = torch.stft(x, n_fft, hop, window=w, return_complex=True).abs().clamp_min(1e-5)
        total = total + torch.linalg.norm(Y - X) / torch.linalg.norm(X) + F.l1_loss(Y.log(), X.log())
    return total / len(sizes)


def main():
    out = os.environ.get("OUT", ".")
    t0 = time.time()
    with ProcessPoolExecutor(min(16, os.cpu_count())) as pool: audio = np.stack(list(pool.map(clip, range(CLIPS), chunksize=16)))
    held = np.stack([synth_singing(SECONDS, voice=v, seed=900_000 + k).audio for k, v in enumerate(sorted(VOICES))])
    data_s = time.time() - t0
    cfg = load_config()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # cpu: a smoke run only
    torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
    model = VoiceModel(cfg)
    voc = model.vocoder.to(dev).train()
    fe = output_frontend(cfg.model).to(dev)
    wav = torch.from_numpy(audio).to(dev)
    hop = cfg.model.hop_samples
    with torch.no_grad(): mels = fe(wav)  # [C, 80, S//hop + 1]
    frames = wav.shape[1] // hop

    def resynth_snr():
        voc.eval()
        with torch.no_grad():
            h = torch.from_numpy(held).to(dev)
            y = voc(fe(h)[..., : h.shape[1] // hop]).squeeze(1).float().cpu().numpy()
        voc.train()
        return [round(log_mel_snr_db(held[i][: y.shape[1]], y[i], output_frontend(cfg.model)), 2) for i in range(len(held))]

    before = resynth_snr()
    opt = torch.optim.AdamW(voc.parameters(), LR, betas=(0.8, 0.99))
    log, step, t_train = [], 0, time.time()
    g = torch.Generator(device="cpu").manual_seed(0)
    while time.time() - t_train < TRAIN_S:
        idx = torch.randint(0, len(wav), (BATCH,), generator=g)
        start = torch.randint(0, frames - SEGMENT_FRAMES, (BATCH,), generator=g)
        m = torch.stack([mels[i, :, s: s + SEGMENT_FRAMES] for i, s in zip(idx.tolist(), start.tolist())])
        x = torch.stack([wav[i, s * hop: (s + SEGMENT_FRAMES) * hop] for i, s in zip(idx.tolist(), start.tolist())])
        with torch.autocast(dev.type, torch.bfloat16, enabled=dev.type == "cuda"):
            y = voc(m).squeeze(1)
        y = y.float()
        loss = 45 * F.l1_loss(fe(y), fe(x)) / 10 + stft_loss(y, x)
        opt.zero_grad(set_to_none=True); loss.backward()
        torch.nn.utils.clip_grad_norm_(voc.parameters(), 10.0); opt.step()
        step += 1
        if step % 200 == 0: log.append({"step": step, "s": round(time.time() - t_train, 1), "loss": round(loss.item(), 4)})
    after = resynth_snr()
    result = {"what": "vocoder training feasibility (issue 11)", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu", "torch": torch.__version__, "clips": CLIPS, "clip_seconds": SECONDS,
              "batch": BATCH, "segment_frames": SEGMENT_FRAMES, "lr": LR, "data_seconds": round(data_s, 1), "train_seconds": TRAIN_S,
              "steps": step, "steps_per_s": round(step / TRAIN_S, 2), "heldout_resynth_log_mel_snr_db_before": before,
              "heldout_resynth_log_mel_snr_db_after": after, "loss_log": log, "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if dev.type == "cuda" else None}
    json.dump(result, open(os.path.join(out, "train_probe.json"), "w"), indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "loss_log"}, indent=1)); print(log[-5:])


if __name__ == "__main__": main()
