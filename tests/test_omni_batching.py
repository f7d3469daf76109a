"""Answers decoded together in one batch get the tokens each gets alone."""

from __future__ import annotations

import threading

import pytest
import torch

from omni_tiny import lit_config, write_lit_checkpoint
from omnitalk.omni import layout as lo
from omnitalk.omni.batching import TalkerBatch
from omnitalk.omni.checkpoint import load_checkpoint
from omnitalk.omni.decoding import BATCH_PARALLEL, SPEECH, TEXT_ONLY, decode
from omnitalk.omni.settings import DecodingOptions

STEPS = 24


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("talker")
    write_lit_checkpoint(folder, lit_config())
    return load_checkpoint(folder).model.float()


def question(frames: int, seed: int, plan=BATCH_PARALLEL):
    """A spoken question's prompts and features (`frames` Whisper frames, random)."""
    speech, text = lo.batch_speech_prompt(frames)
    features = torch.randn(1, frames, 32, generator=torch.Generator().manual_seed(seed))
    prompts = [speech, text] if plan is BATCH_PARALLEL else [speech if plan is SPEECH else text]
    rows = len(prompts)
    inputs = {"audio_features": features.expand(rows, -1, -1),
              "audio_positions": speech.audio_positions}
    return prompts, plan, DecodingOptions(max_steps=STEPS), inputs


def tokens(steps) -> list[tuple]:
    return [(s.text, None if s.audio is None else tuple(s.audio)) for s in steps]


QUESTIONS = [question(3, 1), question(9, 2), question(5, 3, SPEECH), question(7, 4, TEXT_ONLY)]


def test_answers_joining_together_get_their_own_tokens(model):
    alone = [tokens(decode(model, *q)) for q in QUESTIONS]
    batch = TalkerBatch(model)
    with batch._wake:  # all four join before the loop takes any of them
        iterators = [batch.decode(*q) for q in QUESTIONS]
    together = [tokens(it) for it in iterators]
    assert batch.widest == len(QUESTIONS)
    assert together == alone
    assert all(len(t) > 1 for t in together)


def test_an_answer_joining_midway_or_leaving_early_changes_no_other(model):
    alone = [tokens(decode(model, *q)) for q in QUESTIONS[:2]]
    batch = TalkerBatch(model)
    first = batch.decode(*QUESTIONS[0])
    head = [next(first) for _ in range(3)]
    cancel = threading.Event()
    second = batch.decode(*QUESTIONS[1], cancel=cancel)
    second_steps = [next(second) for _ in range(4)]
    cancel.set()  # the second leaves while the first may still be decoding
    rest = list(second)
    assert tokens(second_steps + rest) == alone[1][:len(second_steps) + len(rest)]
    assert len(rest) < len(alone[1]) - 4
    assert tokens(head + list(first)) == alone[0]
    third = batch.decode(*QUESTIONS[0])  # the batch empties and starts again
    assert tokens(third) == alone[0]


def test_a_reader_that_goes_away_frees_its_rows(model):
    batch = TalkerBatch(model)
    abandoned = batch.decode(*QUESTIONS[1])
    next(abandoned)
    abandoned.close()
    assert tokens(batch.decode(*QUESTIONS[0])) == tokens(decode(model, *QUESTIONS[0]))
