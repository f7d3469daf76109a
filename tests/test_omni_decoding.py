"""Delayed parallel decoding: stop rules, batch-parallel feedback, sampling, cache consistency."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from omni_tiny import lit_config, write_lit_checkpoint
from omnitalk.omni import layout as lo
from omnitalk.omni.checkpoint import load_checkpoint
from omnitalk.omni.config import OmniConfig
from omnitalk.omni.decoding import (
    BATCH_PARALLEL,
    SPEECH,
    TEXT_ONLY,
    FrameAssembler,
    decode,
    sample,
)
from omnitalk.omni.settings import DecodingOptions, Sampling
from omnitalk.omni.targets import answer_rows


class ScriptedTalker:
    """Stands in for the model: at step s it prefers rows[s] in every stream it is asked for.

    It records the ids fed after the prompt (one entry per step), so that the feedback rules
    can be checked.
    """

    config = OmniConfig(n_layer=1, n_embd=8, n_head=1, n_query_groups=1, head_size=8,
                        intermediate_size=8, block_size=64)
    device = torch.device("cpu")

    def __init__(self, rows: np.ndarray, prompt_length: int) -> None:
        self.rows = rows  # [8, S] global ids: what each stream should emit at each step
        self.prompt_length = prompt_length
        self.seen = 0  # positions fed so far
        self.fed: list[torch.Tensor] = []

    def embed(self, ids, **features):
        if self.seen >= self.prompt_length:
            self.fed.append(ids)
        self.seen += ids.shape[-1]
        return ids

    def hidden(self, ids, cache=None):
        step = self.seen - self.prompt_length  # the step the last position's logits emit
        return torch.full((ids.shape[0], ids.shape[-1], 1), float(step))

    def _step(self, hidden) -> int:
        return min(int(hidden.reshape(-1)[0]), self.rows.shape[1] - 1)

    def text_logits(self, hidden):
        logits = torch.zeros(lo.MINI_OMNI.audio_base)
        logits[self.rows[lo.TEXT_STREAM, self._step(hidden)]] = 1.0
        return logits

    def audio_logits(self, hidden):
        logits = torch.zeros(lo.AUDIO_LAYERS, lo.AUDIO_STRIDE)
        for layer in range(lo.AUDIO_LAYERS):
            local = lo.MINI_OMNI.audio_local(self.rows[layer, self._step(hidden)], layer)
            logits[layer, local] = 1.0
        return logits


TEXT = [11, 12, 13]
CODES = np.arange(5 * 7).reshape(5, 7) * 100


def test_speech_stops_when_the_last_layer_ends_and_text_turns_to_none_after_eot():
    prompt = lo.speech_prompt(lo.Task.A1A2, 3)
    talker = ScriptedTalker(answer_rows(TEXT, CODES), prompt.length)
    steps = list(decode(talker, [prompt], SPEECH))
    assert len(steps) == len(CODES) + lo.FRAME_DELAY  # layer 6's eoa step is not yielded
    assert [s.text for s in steps[:4]] == [*TEXT, lo.MINI_OMNI.eot]
    assert all(s.text is None for s in steps[4:])
    assembler = FrameAssembler()
    frames = [f for s in steps if (f := assembler.push(s.audio)) is not None]
    np.testing.assert_array_equal(np.stack(frames), CODES)
    # After eot the text fed back is pad_t; audio feedback is the sampled tokens, layer-shifted.
    fed = [ids[0, :, 0] for ids in talker.fed]
    vocab = lo.MINI_OMNI
    assert [int(f[lo.TEXT_STREAM]) for f in fed[3:]] == [vocab.eot] + [vocab.pad_t] * (len(fed) - 4)
    for index, ids in enumerate(fed):
        np.testing.assert_array_equal(ids[:7].numpy(), talker.rows[:7, index])


@pytest.mark.parametrize("plan", [SPEECH, BATCH_PARALLEL])
def test_end_of_audio_at_the_prefill_step_does_not_stop_the_answer(plan):
    """The reference looks for layer 6's eoa only in decode steps, never in the prefill's."""
    rows = answer_rows(TEXT, CODES)
    rows[6, 0] = lo.MINI_OMNI.audio_id(lo.EOA, 6)  # the prefill step says end-of-audio
    prompts = lo.batch_speech_prompt(3) if plan is BATCH_PARALLEL else \
        [lo.speech_prompt(lo.Task.A1A2, 3)]
    talker = ScriptedTalker(rows, prompts[0].length)
    steps = list(decode(talker, prompts, plan))
    assert len(steps) == len(CODES) + lo.FRAME_DELAY
    assert int(steps[0].audio[6]) == lo.EOA  # kept, and fed back as sampled
    assert int(lo.MINI_OMNI.audio_local(talker.fed[0][0, 6, 0], 6)) == lo.EOA
    assembler = FrameAssembler()
    frames = [f for s in steps if (f := assembler.push(s.audio)) is not None]
    np.testing.assert_array_equal(np.stack(frames), CODES)


def test_text_only_stops_at_eot_without_yielding_it():
    prompt = lo.speech_prompt(lo.Task.A1T2, 3)
    talker = ScriptedTalker(answer_rows(TEXT), prompt.length)
    steps = list(decode(talker, [prompt], TEXT_ONLY))
    assert [s.text for s in steps] == TEXT
    assert all(s.audio is None for s in steps)
    for ids in talker.fed:  # every audio stream is fed pad_a
        assert [int(lo.MINI_OMNI.audio_local(ids[0, layer, 0], layer)) for layer in range(7)] == \
            [lo.PAD_A] * 7


def test_batch_parallel_text_comes_from_row_1_and_is_fed_to_both_rows():
    rows = answer_rows(TEXT, CODES)

    class TwoRows(ScriptedTalker):
        def text_logits(self, hidden):  # row 0 would say something else
            assert hidden.shape == (1,), "text is read from one row only"
            return super().text_logits(hidden)

    speech, text = lo.batch_speech_prompt(3)
    talker = TwoRows(rows, speech.length)
    steps = list(decode(talker, [speech, text], BATCH_PARALLEL))
    assert [s.text for s in steps[:3]] == TEXT
    for index, ids in enumerate(talker.fed):
        assert int(ids[0, lo.TEXT_STREAM, 0]) == int(ids[1, lo.TEXT_STREAM, 0])
        np.testing.assert_array_equal(ids[0, :7, 0].numpy(), rows[:7, index])
        assert [int(lo.MINI_OMNI.audio_local(ids[1, layer, 0], layer)) for layer in range(7)] == \
            [lo.PAD_A] * 7


def test_max_steps_context_and_cancel_end_decoding():
    rows = answer_rows(TEXT * 20, CODES)
    prompt = lo.speech_prompt(lo.Task.A1A2, 3)
    assert len(list(decode(ScriptedTalker(rows, 6), [prompt], SPEECH,
                           DecodingOptions(max_steps=5)))) == 5
    # The context (block_size 64) bounds the answer: a 6-token prompt leaves 58 steps.
    assert len(list(decode(ScriptedTalker(answer_rows(TEXT * 30), 6), [prompt],
                           TEXT_ONLY))) == 58
    with pytest.raises(ValueError, match="leaves no room"):
        list(decode(ScriptedTalker(rows, 73), [lo.speech_prompt(lo.Task.A1A2, 70)], SPEECH))
    cancel = threading.Event()
    steps = []
    for step in decode(ScriptedTalker(rows, 6), [prompt], SPEECH, cancel=cancel):
        steps.append(step)
        if len(steps) == 2:
            cancel.set()
    assert len(steps) == 2


def test_sampling_settings():
    logits = torch.tensor([[0.0, 3.0, 2.9, -5.0]])
    assert int(sample(logits, Sampling())) == 1
    assert int(sample(logits, Sampling(temperature=1.0, top_k=1))) == 1
    generator = torch.Generator().manual_seed(0)
    draws = {int(sample(logits, Sampling(temperature=1.0, top_k=2), generator))
             for _ in range(200)}
    assert draws == {1, 2}
    draws = {int(sample(logits, Sampling(temperature=1.0, top_p=0.01), generator))
             for _ in range(50)}
    assert draws == {1}
    a = [int(sample(logits, Sampling(temperature=2.0), torch.Generator().manual_seed(7)))
         for _ in range(3)]
    assert len(set(a)) == 1  # a seed repeats its draw
    with pytest.raises(ValueError, match="invalid sampling"):
        list(decode(ScriptedTalker(answer_rows(TEXT), 6), [lo.speech_prompt(lo.Task.A1T2, 3)],
                    TEXT_ONLY, DecodingOptions(text=Sampling(top_p=0.0))))


@pytest.mark.parametrize("same_features", [True, False])
def test_the_kv_cache_decode_matches_one_whole_sequence_forward(tmp_path, same_features):
    """Streaming (cached, step by step) and offline (one pass) decoding pick the same tokens.

    With the same features in both rows (the real batch-parallel case) the shared prompt is
    prefilled once and its cache copied; with different ones each row is prefilled.
    """
    write_lit_checkpoint(tmp_path, lit_config())
    model = load_checkpoint(tmp_path).model
    speech, text = lo.batch_speech_prompt(4)
    g = torch.Generator().manual_seed(5)
    audio = torch.randn(1 if same_features else 2, 4, 32, generator=g).expand(2, -1, -1)
    features = {"audio_features": audio, "audio_positions": speech.audio_positions}
    steps = list(decode(model, [speech, text], BATCH_PARALLEL, DecodingOptions(max_steps=12),
                        features))
    assert len(steps) == 12
    # Rebuild what was fed: prompt, then each step's text to both rows, audio to row 0 only.
    fed = []
    for step in steps[:-1]:
        ids = np.empty((2, 8), np.int64)
        ids[:, 7] = lo.MINI_OMNI.pad_t if step.text is None else step.text
        ids[1, :7] = [lo.MINI_OMNI.audio_id(lo.PAD_A, layer) for layer in range(7)]
        ids[0, :7] = [lo.MINI_OMNI.audio_id(int(step.audio[layer]), layer) for layer in range(7)]
        fed.append(ids)
    prompt = np.stack([speech.ids, text.ids])
    sequence = torch.from_numpy(np.concatenate([prompt, np.stack(fed, axis=-1)], axis=-1))
    with torch.no_grad():
        text_logits, audio_logits = model(sequence, **features)
    positions = range(speech.length - 1, sequence.shape[-1])
    for step, position in zip(steps, positions, strict=True):
        if step.text is not None:
            assert step.text == int(text_logits[1, position].argmax())
        np.testing.assert_array_equal(step.audio, audio_logits[0, position].argmax(-1).numpy())


def test_text_deltas_wait_for_whole_characters(tmp_path):
    from tokenizers import Tokenizer

    from omni_tiny import write_tokenizer
    from omnitalk.omni.inference import IncrementalText

    write_tokenizer(tmp_path / "tokenizer.json")
    tokenizer = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    text = "the café is paris"
    ids = tokenizer.encode(text).ids
    stream = IncrementalText(tokenizer)
    deltas = [stream.push(token) for token in ids]
    assert "".join(deltas) == stream.whole() == text
    assert "\ufffd" not in "".join(deltas)
    assert any(d == "" for d in deltas)  # the first byte of "é" waited for the second
