"""Two-channel dialogues from finished items, as OmniFlatten and Mini-Omni2 train on.

- `dialogue`: the user's turns on channel 0, the assistant's on channel 1. The assistant starts
  right when the user stops; the pause before the next user turn is drawn from a normal
  distribution; the user channel gets background noise at an SNR drawn from the configured
  range (noise files, or generated white, pink or brown noise). Written as a stereo WAV at
  SNAC's 24 kHz, a timeline, and token streams: OmniFlatten's 3- and 2-stream flattenings
  (`omnitalk.duplex.flatten`) and SyncLLM's interleave (`omnitalk.duplex.interleave`). SyncLLM
  wants one codebook: its units are the SNAC frames' coarse codes (layer 0, one per 85.3 ms
  frame; SILENT while the assistant is silent), 2 frames (171 ms) per chunk, the nearest to
  SyncLLM's 160 ms (1 frame is 85 ms, 3 are 256 ms, past the 240 ms it was tried at).
- `interruption`: the assistant speaking, and in the user channel noise with either the
  command ("stop omni", every other sample) or other speech at a random moment; one label per
  SNAC frame of the user channel: 1 (interrupt) from the frame where the command ends, else 0.
  The assistant channel stops where an interrupt begins.

Every draw comes from a generator seeded with the build seed and the item id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import random
from pathlib import Path

import numpy as np

from omnitalk.audio.io import load_audio
from omnitalk.audio.resample import resample
from omnitalk.codec.snac_frames import SAMPLE_RATE, SAMPLES_PER_FRAME, SNAC_CODES
from omnitalk.data.files import write_bytes, write_wav
from omnitalk.data.items import Item
from omnitalk.data.synthesise import speak
from omnitalk.data.tokenise import snac_frames
from omnitalk.data.workshop import Workshop
from omnitalk.duplex.flatten import SILENT, FlatLayout, flatten, place_text
from omnitalk.duplex.interleave import InterleaveLayout, interleave
from omnitalk.engines.tts_piper import VoiceStyle

LEAD_S = 0.5  # silence before the first turn and after the last


def _generators(shop: Workshop, item: Item, what: str) -> tuple[random.Random, np.random.Generator]:
    key = f"{shop.config.seed}:{what}:{item.id}"
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return random.Random(key), np.random.default_rng(digest)


def coloured_noise(samples: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with a 1/f^exponent power spectrum (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    frequencies = np.fft.rfftfreq(samples)
    frequencies[0] = frequencies[1] if samples > 2 else 1.0
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n=samples)
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)


def noise_bed(samples: int, noise_dir: str, rng: random.Random,
              np_rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Unit-RMS background noise of `samples` at 24 kHz, and what it is."""
    files = sorted(p for p in Path(noise_dir).glob("*") if p.is_file()) if noise_dir else []
    if not files:
        name, exponent = rng.choice([("white", 0.0), ("pink", 1.0), ("brown", 2.0)])
        return coloured_noise(samples, exponent, np_rng), f"{name} noise"
    path = rng.choice(files)
    noise = load_audio(path, SAMPLE_RATE)
    start = rng.randrange(max(1, noise.size))
    looped = np.resize(np.roll(noise, -start), samples)
    return looped / (np.sqrt(np.mean(looped**2)) + 1e-12), path.name


def _at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    power = float(np.mean(speech**2)) if speech.size else 1e-4
    return noise * np.sqrt(power / 10 ** (snr_db / 10))


def _turn_audio(shop: Workshop, item: Item, index: int) -> np.ndarray:
    return load_audio(shop.root / item.turns[index].audio, SAMPLE_RATE)


def _stereo_wav(path: Path, user: np.ndarray, assistant: np.ndarray) -> None:
    write_wav(path, np.stack([user, assistant], axis=1), SAMPLE_RATE)


def dialogue(item: Item, shop: Workshop) -> dict:
    config = shop.config.duplex
    rng, np_rng = _generators(shop, item, "dialogue")
    pieces, segments, clock = [], [], LEAD_S
    for index, turn in enumerate(item.turns):
        audio = _turn_audio(shop, item, index)
        segments.append({"speaker": turn.role, "start": round(clock, 3),
                         "end": round(clock + audio.size / SAMPLE_RATE, 3), "text": turn.spoken})
        pieces.append((turn.role, int(clock * SAMPLE_RATE), audio))
        clock = segments[-1]["end"]
        if turn.role == "assistant" and index + 1 < len(item.turns):
            clock += max(0.1, rng.gauss(config.gap_mean_s, config.gap_std_s))
    total = int((clock + LEAD_S) * SAMPLE_RATE)
    total += -total % SAMPLES_PER_FRAME  # whole SNAC frames
    channels = {"user": np.zeros(total, np.float32), "assistant": np.zeros(total, np.float32)}
    for role, start, audio in pieces:
        channels[role][start:start + audio.size] = audio
    snr = rng.uniform(*config.snr_db)
    noise, noise_name = noise_bed(total, config.noise_dir, rng, np_rng)
    user_speech = np.concatenate([a for role, _, a in pieces if role == "user"])
    channels["user"] += _at_snr(user_speech, noise, snr)
    stem = f"duplex/{item.key}"
    _stereo_wav(shop.root / f"{stem}.wav", channels["user"], channels["assistant"])

    layout = FlatLayout(text_vocab=shop.tokenizer.get_vocab_size())
    user_frames = snac_frames(shop.snac, channels["user"])
    assistant_frames = snac_frames(shop.snac, channels["assistant"])
    speaking = np.zeros(len(assistant_frames), bool)
    frame_seconds = SAMPLES_PER_FRAME / SAMPLE_RATE
    text_turns = []
    for segment, turn in zip(segments, item.turns, strict=True):
        if turn.role == "assistant":
            first = int(segment["start"] / frame_seconds)
            speaking[first:int(np.ceil(segment["end"] / frame_seconds))] = True
            text_turns.append((first // layout.speech_chunk_frames, list(turn.text_ids)))
    assistant_frames[~speaking] = SILENT
    chunks = len(user_frames) // layout.speech_chunk_frames
    text = place_text(text_turns, chunks, layout)
    flat = flatten(user_frames, assistant_frames, text, layout)
    speech_only = FlatLayout(text_vocab=layout.text_vocab, streams=2)
    flat_2stream = flatten(user_frames, assistant_frames, None, speech_only)
    # SyncLLM's units are one codebook: SNAC's coarse layer 0, 2 frames (171 ms) per chunk.
    sync = InterleaveLayout(unit_vocab=SNAC_CODES, chunk_units=2)
    interleaved = interleave(assistant_frames[:, 0], user_frames[:, 0], sync)
    buffer = io.BytesIO()
    np.savez(buffer, user_frames=user_frames, assistant_frames=assistant_frames, text=text,
             flat=flat, flat_2stream=flat_2stream, interleaved=interleaved)
    write_bytes(shop.root / f"{stem}.tokens.npz", buffer.getvalue())
    return {"id": item.id, "audio": f"{stem}.wav", "tokens": f"{stem}.tokens.npz",
            "seconds": round(total / SAMPLE_RATE, 3), "segments": segments,
            "snr_db": round(snr, 2), "noise": noise_name, "chunks": int(chunks),
            "text_vocab": layout.text_vocab, "flat_length": int(flat.size),
            "flat_2stream_length": int(flat_2stream.size),
            "interleaved_length": int(interleaved.size)}


_JOB = "~interrupt"


def interruption_job(item: Item, number: int) -> Item:
    """The item as interruption sample `number`: its own id, draws and result file.

    Even numbers get the command, odd ones other speech: half and half.
    """
    return dataclasses.replace(item, id=f"{item.id}{_JOB}{number}")


def interruption(item: Item, shop: Workshop) -> dict:
    config = shop.config.duplex
    rng, np_rng = _generators(shop, item, "interruption")
    positive = int(item.id.rpartition(_JOB)[2]) % 2 == 0
    reply = _turn_audio(shop, item, 1)
    if positive:  # the command, in this conversation's user voice
        user = item.turns[0]
        voice = next(shop.voice(path) for path in shop.config.synthesis.user_voices
                     if shop.voice(path).name == user.speaker.partition("#")[0])
        said = resample(speak(voice, config.command, VoiceStyle(**user.style)),
                        voice.sample_rate, SAMPLE_RATE)
        words = config.command
    else:  # other speech over the reply: no reason to stop
        said, words = _turn_audio(shop, item, 0), item.turns[0].spoken
    lead = int(LEAD_S * SAMPLE_RATE)
    latest = max(lead, lead + reply.size - said.size)
    start = rng.randrange(lead, latest + 1)
    total = max(lead + reply.size, start + said.size) + lead
    total += -total % SAMPLES_PER_FRAME
    user_channel = np.zeros(total, np.float32)
    user_channel[start:start + said.size] = said
    snr = rng.uniform(*config.snr_db)
    noise, noise_name = noise_bed(total, config.noise_dir, rng, np_rng)
    user_channel += _at_snr(said, noise, snr)
    labels = np.zeros(total // SAMPLES_PER_FRAME, np.int8)
    assistant_channel = np.zeros(total, np.float32)
    assistant_channel[lead:lead + reply.size] = reply
    end = start + said.size
    if positive:
        labels[end // SAMPLES_PER_FRAME:] = 1
        assistant_channel[(end // SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME:] = 0.0
    stem = f"interruptions/{item.key}"
    _stereo_wav(shop.root / f"{stem}.wav", user_channel, assistant_channel)
    buffer = io.BytesIO()
    np.savez(buffer, user_frames=snac_frames(shop.snac, user_channel), labels=labels)
    write_bytes(shop.root / f"{stem}.tokens.npz", buffer.getvalue())
    return {"id": item.id, "audio": f"{stem}.wav", "tokens": f"{stem}.tokens.npz",
            "kind": "command" if positive else "other_speech", "user_says": words,
            "start": round(start / SAMPLE_RATE, 3), "end": round(end / SAMPLE_RATE, 3),
            "snr_db": round(snr, 2), "noise": noise_name,
            "interrupt_from_frame": int(end // SAMPLES_PER_FRAME) if positive else None,
            "frames": int(labels.size)}

