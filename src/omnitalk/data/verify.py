"""Listen to the synthetic speech with ASR and keep only what it heard as written.

English items are scored by word error rate, Chinese ones by character error rate (pooled over
the item's turns, both sides normalised alike); the rate is kept on every turn and item.
"""

from __future__ import annotations

import dataclasses
import re

import jiwer

from omnitalk.audio.io import load_audio
from omnitalk.data.items import Drop, Item
from omnitalk.data.workshop import Workshop
from omnitalk.text.wer import normalise_for_wer

_NOT_HAN = re.compile(r"[^\u3400-\u9fff0-9a-zA-Z]")


def error_rate(references: list[str], hypotheses: list[str], language: str) -> float:
    """WER (en) or CER (zh) pooled over pairs; an empty reference scores its hypothesis."""
    if language == "zh":
        refs = [_NOT_HAN.sub("", r) for r in references]
        hyps = [_NOT_HAN.sub("", h) for h in hypotheses]
        return float(jiwer.cer(refs, hyps))
    refs = [normalise_for_wer(r) for r in references]
    hyps = [normalise_for_wer(h) for h in hypotheses]
    return float(jiwer.wer(refs, hyps))


def verify(item: Item, shop: Workshop) -> Item:
    language = shop.config.language
    turns, references, hypotheses = [], [], []
    for turn in item.turns:
        audio = load_audio(shop.root / turn.audio, shop.asr.sample_rate)
        heard = shop.asr.transcribe(audio)
        rate = error_rate([turn.spoken], [heard], language)
        turns.append(dataclasses.replace(turn, transcript=heard, error_rate=round(rate, 4)))
        references.append(turn.spoken)
        hypotheses.append(heard)
    rate = round(error_rate(references, hypotheses, language), 4)
    limit = shop.config.verify.max_cer if language == "zh" else shop.config.verify.max_wer
    if rate > limit:
        metric = "CER" if language == "zh" else "WER"
        worst = max(turns, key=lambda t: t.error_rate)
        raise Drop("asr_mismatch", f"{metric} {rate:.0%} > {limit:.0%}; heard "
                   f"{worst.transcript!r} for {worst.spoken!r}")
    return item.with_turns(turns, error_rate=rate)
