"""The tokens a talker trains on, stored beside the audio.

- user turns: Whisper encoder features (float16 [frames, width], trimmed as Mini-Omni trims);
- every turn: SNAC frames of its speech (int16 [n, 7], Mini-Omni's 7-token frame order) - the
  assistant's are the talker's audio targets, the user's feed the duplex formats;
- every turn: its spoken text in the training tokenizer's ids.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from omnitalk.audio.io import load_audio
from omnitalk.codec.snac_frames import SAMPLE_RATE as SNAC_RATE
from omnitalk.codec.snac_frames import codes_to_frames
from omnitalk.data.files import write_npy
from omnitalk.data.items import Drop, Item
from omnitalk.data.workshop import Workshop
from omnitalk.omni.whisper import SpeechTooLong


def snac_frames(snac, audio_24k: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        codes = snac.encode(torch.from_numpy(audio_24k)[None, None])
    return codes_to_frames(*(c.numpy() for c in codes))


def tokenise(item: Item, shop: Workshop) -> Item:
    turns = []
    for index, turn in enumerate(item.turns):
        stem = f"tokens/{item.key}/{index:02d}_{turn.role}"
        features = ""
        if turn.role == "user":
            try:
                encoded = shop.whisper(load_audio(shop.root / turn.audio, 16000))
            except SpeechTooLong as error:
                raise Drop("too_long_audio", str(error)) from None
            features = f"{stem}.whisper.npy"
            write_npy(shop.root / features, encoded.numpy().astype(np.float16))
        frames = snac_frames(shop.snac, load_audio(shop.root / turn.audio, SNAC_RATE))
        write_npy(shop.root / f"{stem}.snac.npy", frames.astype(np.int16))
        ids = shop.tokenizer.encode(turn.spoken, add_special_tokens=False).ids
        turns.append(dataclasses.replace(turn, features=features, frames=f"{stem}.snac.npy",
                                         text_ids=tuple(ids)))
    return item.with_turns(turns)
