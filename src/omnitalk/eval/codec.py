"""`omnitalk eval codec`: is the voice codec's round trip still the voice, word for word?

Each held-out answer of the sample conversations (`voice_training.corpus`) is spoken by the
installed Piper voice with noise_scale 0 and noise_w 0 (the same audio on every run), its z
coded to frames and back by each codec given, and decoded by the voice's own decoder. Whisper
tiny.en transcribes the original and every round trip; the table gives their word error rates
against the text, the mean distance of their Whisper log-mel features, the bitrate, each
codebook level's usage and perplexity over the held-out codes (and over the training set when
its latents are in the codec's folder), and the decode real-time factor on one thread (codec +
Piper decoder), then how streamed chunks differ from one whole decode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jiwer
import numpy as np
import torch
from rich.table import Table

from omnitalk.audio.resample import resample
from omnitalk.codec.piper_decoder import HOP, PiperDecoder, PiperLatents
from omnitalk.codec.quantizers import codebook_usage
from omnitalk.codec.voice_codec import (
    SAMPLES_PER_FRAME,
    VoiceCodec,
    streaming_decoder,
)
from omnitalk.codec.voice_training import LATENTS, corpus
from omnitalk.text.wer import normalise_for_wer

ASR_RATE = 16000
EDGE_SENTENCES = 8
EDGE_SCHEMES = ((0, 0), (1, 0), (1, 1), (2, 1), (3, 1))


def evaluate(codecs: list[str], voice: str = "", limit: int = 0,
             progress: Callable[[str], None] = lambda _: None) -> dict:
    from faster_whisper.feature_extractor import FeatureExtractor

    from omnitalk.engines import registry
    from omnitalk.engines.base import ASRConfig

    decoder = PiperDecoder(voice or None, threads=1)
    loaded = {folder: VoiceCodec.load(folder, decoder.weights_hash) for folder in codecs}
    latents = PiperLatents(voice or None, threads=2)
    asr = registry.create("asr", ASRConfig())
    mel = FeatureExtractor()
    _, texts = corpus()
    texts = texts[:limit] if limit else texts
    rate = decoder.sample_rate

    def heard(audio: np.ndarray) -> tuple[str, np.ndarray]:
        at_16k = resample(audio, rate, ASR_RATE)
        return normalise_for_wer(asr.transcribe(at_16k)), mel(at_16k)

    references, originals, original_mels = [], [], []
    rows = {folder: {"hypotheses": [], "mel": [], "codes": [[], [], []], "decode_s": 0.0}
            for folder in codecs}
    spoken_s = 0.0
    streamed: list[np.ndarray] = []  # the first codec's frames of a few sentences
    torch.set_num_threads(1)  # the decode real-time factor is for one core
    for number, text in enumerate(texts, 1):
        # No sampled timing either: every run speaks the same audio, so runs compare.
        sentences = list(latents.sentences(text, noise_w=0.0))
        original = np.concatenate([s.audio for s in sentences])
        spoken_s += original.size / rate
        references.append(normalise_for_wer(text))
        words, features = heard(original)
        originals.append(words)
        original_mels.append(features)
        for folder, codec in loaded.items():
            row, pieces = rows[folder], []
            for sentence in sentences:
                frames = codec.encode(sentence.z)
                if folder == codecs[0] and len(streamed) < EDGE_SENTENCES:
                    streamed.append(frames)
                for level, width in enumerate((1, 2, 4)):
                    row["codes"][level].append(frames[:, _layers(width)].reshape(-1))
                start = time.perf_counter()
                z = codec.decode(frames)
                audio = decoder(z)[:sentence.z.shape[-1] * HOP]  # the padded tail cut
                row["decode_s"] += time.perf_counter() - start
                pieces.append(audio)
            words, round_trip = heard(np.concatenate(pieces))
            row["hypotheses"].append(words)
            row["mel"].append(float(np.abs(round_trip - features).mean()))
        progress(f"evaluated {number} / {len(texts)} held-out answers")
    results = {"texts": len(texts), "audio_s": spoken_s, "voice": decoder.name,
               "original_wer": jiwer.wer(references, originals), "codecs": []}
    if codecs:
        results["chunk_edges"] = chunk_edges(loaded[codecs[0]], decoder, streamed)
        results["chunk_edge_sentences"] = len(streamed)
    for folder, row in rows.items():
        codec = loaded[folder]
        size = codec.config.codebook_size
        levels = [codebook_usage(torch.from_numpy(np.concatenate(c)), size)
                  for c in row["codes"]]
        results["codecs"].append({
            "codec": folder, "quantizer": codec.config.quantizer,
            "training_levels": _training_usage(codec, Path(folder) / LATENTS),
            "wer": jiwer.wer(references, row["hypotheses"]),
            "log_mel_distance": float(np.mean(row["mel"])),
            "bitrate_bps": 7 * np.log2(size) * rate / SAMPLES_PER_FRAME,
            "levels": levels, "decode_rtf": row["decode_s"] / spoken_s})
    return results


def chunk_edges(codec: VoiceCodec, decoder: PiperDecoder,
                sentences: list[np.ndarray]) -> list[dict[str, float]]:
    """Streamed audio (chunks of 4 frames) against one whole decode of the same frames, per
    context and lookahead, as signal-to-noise ratios over the sentences."""
    rows = []
    for context, lookahead in EDGE_SCHEMES:
        signal = noise = 0.0
        for frames in sentences:
            whole = decoder(codec.decode(frames))
            stream = streaming_decoder(codec, decoder, 4, context, lookahead)
            chunks = [c for frame in frames if (c := stream.push(frame)) is not None]
            if (tail := stream.flush()) is not None:
                chunks.append(tail)
            signal += float(np.sum(whole ** 2))
            noise += float(np.sum((np.concatenate(chunks) - whole) ** 2))
        rows.append({"context_frames": context, "lookahead_frames": lookahead,
                     "snr_db": 10 * np.log10(signal / max(noise, 1e-30))})
    return rows


def _training_usage(codec: VoiceCodec, latents: Path) -> list[dict] | None:
    """Codebook usage over the codec's whole training set (the held-out answers hold fewer
    frames than a level has codes), when its latents are in the codec's folder."""
    if not latents.is_file():
        return None
    with np.load(latents) as stored:
        frames = np.concatenate([codec.encode(stored[key][None]) for key in stored.files])
    return [codebook_usage(torch.from_numpy(frames[:, _layers(width)].reshape(-1)),
                           codec.config.codebook_size) for width in (1, 2, 4)]


def _layers(width: int) -> list[int]:
    """The frame columns holding the codebook with `width` codes per frame (SNAC's order)."""
    from omnitalk.codec.snac_frames import FRAME_ORDER

    book = (1, 2, 4).index(width)
    return [layer for layer, (b, _) in enumerate(FRAME_ORDER) if b == book]


def table(results: dict) -> Table:
    table = Table(title=f"Voice codec round trip: {results['texts']} held-out answers "
                  f"({results['audio_s']:.0f} s of {results['voice']}), Whisper tiny.en; "
                  f"the original audio: WER {100 * results['original_wer']:.1f} %")
    for name in ("codec", "quantizer", "WER %", "log-mel distance", "kbps",
                 "codes used per level (held out)", "perplexity per level (held out)",
                 "codes used per level (training set)", "decode RTF (1 thread)"):
        table.add_column(name, justify="left" if name in ("codec", "quantizer") else "right")
    for row in results["codecs"]:
        table.add_row(
            Path(row["codec"]).name, row["quantizer"], f"{100 * row['wer']:.1f}",
            f"{row['log_mel_distance']:.3f}", f"{row['bitrate_bps'] / 1000:.2f}",
            " / ".join(f"{level['usage']:.0%}" for level in row["levels"]),
            " / ".join(f"{level['perplexity']:.0f}" for level in row["levels"]),
            " / ".join(f"{level['usage']:.1%}" for level in row["training_levels"])
            if row["training_levels"] else "-",
            f"{row['decode_rtf']:.3f}")
    return table


def edges_table(results: dict) -> Table:
    table = Table(title="Streamed (chunks of 4 frames) against one whole decode, "
                  f"{results.get('chunk_edge_sentences', 0)} held-out sentences, the first codec")
    for name in ("context frames", "lookahead frames", "SNR dB"):
        table.add_column(name, justify="right")
    for row in results.get("chunk_edges", []):
        table.add_row(str(row["context_frames"]), str(row["lookahead_frames"]),
                      f"{row['snr_db']:.1f}")
    return table
