"""`omnitalk train codec`: teach a `VoiceCodec` to code the installed Piper voice's z.

The corpus is the assistant's side of the built-in sample conversations (`data.sample`),
spoken by the voice with noise_scale 0; every `held_out_every`-th conversation is kept out for
`omnitalk eval codec`. Training takes random crops of z and minimises the squared error of the
reconstructed z (in the standardised space) plus the quantisers' codebook and commitment terms.
The captured z are cached in the output folder, so a second run starts training at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from omnitalk.codec.piper_decoder import PiperLatents, VoiceFiles, cut_decoder, weights_hash
from omnitalk.codec.quantizers import codebook_usage
from omnitalk.codec.voice_codec import Z_PER_FRAME, VoiceCodec, VoiceCodecConfig

LATENTS = "latents.npz"


@dataclass
class CodecTrainConfig:
    out_dir: str = "out/codec"
    voice: str = ""  # a Piper .onnx; empty: the packaged en_US-joe-medium
    quantizer: str = "simvq"
    steps: int = 3000
    batch: int = 16
    window_frames: int = 8  # code frames per training crop (8 z-frames each)
    learning_rate: float = 2e-3
    seed: int = 0
    held_out_every: int = 20
    threads: int = 2


def corpus(held_out_every: int = 20) -> tuple[list[str], list[str]]:
    """(training, held-out) sentences: the sample conversations' answers, ready to speak."""
    from omnitalk.data.sample import sample_conversations
    from omnitalk.text.speech import normalise_for_speech

    training, held_out = [], []
    for number, conversation in enumerate(sample_conversations()):
        if conversation["expect"] != "keep":  # code and tables: not speech
            continue
        texts = [normalise_for_speech(m["content"]) for m in conversation["messages"]
                 if m["role"] == "assistant"]
        (held_out if number % held_out_every == 0 else training).extend(t for t in texts if t)
    return training, held_out


def capture(latents: PiperLatents, texts: list[str],
            progress: Callable[[str], None] = lambda _: None) -> list[np.ndarray]:
    """Each sentence's z [192, T] as the voice says `texts` with noise_scale 0."""
    zs = []
    for number, text in enumerate(texts, 1):
        zs.extend(s.z[0] for s in latents.sentences(text))
        if number % 50 == 0 or number == len(texts):
            progress(f"spoke {number} / {len(texts)} texts ({len(zs)} sentences)")
    return zs


def _crops(zs: list[np.ndarray], count: int, length: int, rng: np.random.Generator):
    batch = np.empty((count, zs[0].shape[0], length), np.float32)
    for row in range(count):
        z = zs[rng.integers(len(zs))]
        if z.shape[1] < length:  # a short sentence: its last frame held to the length
            z = np.concatenate([z, np.repeat(z[:, -1:], length - z.shape[1], axis=1)], axis=1)
        start = rng.integers(z.shape[1] - length + 1)
        batch[row] = z[:, start:start + length]
    return torch.from_numpy(batch)


def train_codec(config: CodecTrainConfig,
                progress: Callable[[str], None] = print) -> tuple[VoiceCodec, dict]:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = VoiceFiles.find(config.voice or None)
    cached = out / LATENTS
    if cached.is_file():
        with np.load(cached) as stored:
            zs = [stored[key] for key in sorted(stored.files, key=int)]
        progress(f"read {len(zs)} sentences' z from {cached}")
    else:
        training, _ = corpus(config.held_out_every)
        progress(f"speaking {len(training)} training texts with {files.model.name}...")
        zs = capture(PiperLatents(config.voice or None, threads=config.threads), training,
                     progress)
        np.savez(cached, **{str(i): z for i, z in enumerate(zs)})
    frames = np.concatenate(zs, axis=1)
    codec = VoiceCodec(VoiceCodecConfig(quantizer=config.quantizer,
                                        voice=files.model.name.removesuffix(".onnx"),
                                        voice_hash=weights_hash(cut_decoder(files))))
    codec.z_mean.copy_(torch.from_numpy(frames.mean(axis=1, keepdims=True)))
    codec.z_std.copy_(torch.from_numpy(frames.std(axis=1, keepdims=True) + 1e-5))
    optimiser = torch.optim.AdamW(codec.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.learning_rate,
                                                   total_steps=config.steps, pct_start=0.05)
    length = config.window_frames * Z_PER_FRAME
    started, history = time.perf_counter(), []
    codec.train()
    for step in range(1, config.steps + 1):
        z = _crops(zs, config.batch, length, rng)
        reconstructed, quantized = codec(z)
        error = F.mse_loss(reconstructed / codec.z_std, z / codec.z_std)
        loss = error + quantized.loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 250 == 0 or step == config.steps:
            # Perplexity within the batch: at most the batch's count of codes per level.
            perplexity = [codebook_usage(c, codec.config.codebook_size)["perplexity"]
                          for c in quantized.codes]
            history.append({"step": step, "z_error": float(error.detach()),
                            "loss": float(loss.detach())})
            progress(f"step {step}/{config.steps}: z error {float(error.detach()):.4f} "
                     "(standardised), code perplexity in the batch per level "
                     f"{' / '.join(f'{p:.0f}' for p in perplexity)} (of "
                     f"{' / '.join(str(c.numel()) for c in quantized.codes)} codes), "
                     f"{time.perf_counter() - started:.0f} s")
    codec.eval()
    codec.save(out)
    report = {"sentences": len(zs), "z_frames": int(frames.shape[1]),
              "seconds": time.perf_counter() - started, "history": history,
              "out_dir": str(out)}
    return codec, report
