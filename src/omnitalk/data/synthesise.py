"""Speak each turn with Piper: users in varied voices and speeds, the assistant in one voice.

A conversation's user keeps one voice and style throughout; which one is drawn from the
configured voices, speakers and scales by a generator seeded with the build seed and the item
id, so a resumed build picks what an uninterrupted one would. Each turn's WAV (the voice's own
rate) is written atomically and its speaker, gender, style and duration are recorded.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np

from omnitalk.data.files import write_wav
from omnitalk.data.items import Drop, Item
from omnitalk.data.workshop import Workshop
from omnitalk.engines.tts_piper import VoiceStyle

SENTENCE_PAUSE_S = 0.15  # Piper gives one chunk per sentence, without the pause between


def _user_voice(shop: Workshop, item: Item) -> tuple[str, VoiceStyle]:
    config = shop.config.synthesis
    rng = random.Random(f"{shop.config.seed}:{item.id}")
    path = rng.choice(config.user_voices)
    speakers = shop.voice(path).speakers
    return path, VoiceStyle(
        speaker_id=rng.randrange(speakers) if speakers > 1 else None,
        length_scale=rng.choice(config.user_length_scales),
        noise_scale=rng.choice(config.user_noise_scales),
        noise_w_scale=rng.choice(config.user_noise_w_scales),
    )


def speak(tts, text: str, style: VoiceStyle) -> np.ndarray:
    pause = np.zeros(int(SENTENCE_PAUSE_S * tts.sample_rate), np.float32)
    pieces: list[np.ndarray] = []
    for chunk in tts.synthesize(text, style):
        if chunk.size:
            pieces += [chunk, pause]
    return np.concatenate(pieces[:-1]) if pieces else np.zeros(0, np.float32)


def synthesise(item: Item, shop: Workshop) -> Item:
    config = shop.config.synthesis
    user = _user_voice(shop, item)
    assistant = (config.assistant_voice, VoiceStyle(
        length_scale=config.assistant_length_scale, noise_scale=config.assistant_noise_scale,
        noise_w_scale=config.assistant_noise_w_scale))
    turns = []
    for index, turn in enumerate(item.turns):
        path, style = user if turn.role == "user" else assistant
        tts = shop.voice(path)
        audio = speak(tts, turn.spoken, style)
        if audio.size == 0:
            raise Drop("no_audio", f"the voice said nothing for {turn.spoken[:40]!r}")
        relative = f"audio/{item.key}/{index:02d}_{turn.role}.wav"
        write_wav(shop.root / relative, audio, tts.sample_rate)
        speaker = tts.name if style.speaker_id is None else f"{tts.name}#{style.speaker_id}"
        turns.append(dataclasses.replace(
            turn, audio=relative, sample_rate=tts.sample_rate,
            seconds=round(audio.size / tts.sample_rate, 3), speaker=speaker,
            gender=config.genders.get(tts.name, "unknown"), style=dataclasses.asdict(style),
        ))
    return item.with_turns(turns)
