"""The 8-stream rows of every task, and batches of them.

| task | prompt (input) | answer (trained) |
|---|---|---|
| asr | the question's speech (Whisper features) | its text |
| tts | the answer's text | the answer's text and speech |
| a1t2 | the question's speech | the answer's text |
| a1a2 | the question's speech | the answer's text and speech |
| t1a2 | the question's text | the answer's text and speech |
| t1t2 | the question's text | the answer's text |

Prompts and answers are laid out by `omnitalk.omni.layout` and `omnitalk.omni.targets`, the
same code the decoder reads them back with. A batch pads every row at its end (pad ids in,
nothing to learn) and its features to the longest; a causal model never sees the padding of
the positions it is trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from omnitalk.omni import layout as lo
from omnitalk.omni.targets import IGNORE, Example, answer_rows, training_example
from omnitalk.train.data import Exchange

SPEAKING_TASKS = ("tts", "a1a2", "t1a2")
HEARING_TASKS = ("asr", "a1t2", "a1a2")


@dataclass(frozen=True)
class TaskExample:
    task: str
    example: Example
    features: np.ndarray | None  # [frames, width] for the hearing tasks


def make_example(task: str, exchange: Exchange, vocab: lo.Vocab) -> TaskExample:
    frames = exchange.question_features.shape[0]
    question, answer = list(exchange.question_ids), list(exchange.answer_ids)
    if task == "asr":
        prompt, rows = lo.speech_prompt(lo.Task.ASR, frames, vocab), answer_rows(question,
                                                                                   vocab=vocab)
    elif task == "a1t2":
        prompt, rows = lo.speech_prompt(lo.Task.A1T2, frames, vocab), answer_rows(answer,
                                                                                    vocab=vocab)
    elif task == "a1a2":
        prompt = lo.speech_prompt(lo.Task.A1A2, frames, vocab)
        rows = answer_rows(answer, exchange.answer_frames, vocab=vocab)
    elif task == "tts":
        prompt = lo.text_prompt(lo.Task.T1A2, answer, vocab)
        rows = answer_rows(answer, exchange.answer_frames, vocab=vocab)
    elif task == "t1a2":
        prompt = lo.text_prompt(lo.Task.T1A2, question, vocab)
        rows = answer_rows(answer, exchange.answer_frames, vocab=vocab)
    elif task == "t1t2":
        prompt, rows = lo.text_prompt(lo.Task.T1T2, question, vocab), answer_rows(answer,
                                                                                    vocab=vocab)
    else:
        raise ValueError(f"unknown task {task!r}")
    example = training_example(prompt, rows, learn_audio=task in SPEAKING_TASKS)
    features = exchange.question_features if task in HEARING_TASKS else None
    return TaskExample(task, example, features)


def task_examples(exchanges: list[Exchange], tasks: list[str], vocab: lo.Vocab,
                  max_answer_frames: int) -> list[TaskExample]:
    """Every (task, exchange) pair that fits: spoken answers within the frame limit."""
    out = []
    for exchange in exchanges:
        for task in tasks:
            if task in SPEAKING_TASKS and not 0 < len(exchange.answer_frames) \
                    <= max_answer_frames:
                continue
            if not exchange.question_ids or not exchange.answer_ids:
                continue
            out.append(make_example(task, exchange, vocab))
    return out


@dataclass
class Batch:
    inputs: torch.Tensor  # [B, 8, L]
    targets: torch.Tensor  # [B, 8, L], IGNORE where nothing is learned
    features: torch.Tensor | None  # [B, F, width]
    positions: list[slice] | None  # where each row's features go

    def model_inputs(self) -> dict:
        if self.features is None:
            return {}
        return {"audio_features": self.features, "audio_positions": self.positions}


def collate(items: list[TaskExample], vocab: lo.Vocab) -> Batch:
    length = max(item.example.inputs.shape[1] for item in items)
    pad = np.array([vocab.audio_id(lo.PAD_A, layer) for layer in range(lo.AUDIO_LAYERS)]
                   + [vocab.pad_t], dtype=np.int64)
    inputs = np.repeat(pad[None, :, None], len(items), axis=0).repeat(length, axis=2)
    targets = np.full((len(items), lo.STREAMS, length), IGNORE, dtype=np.int64)
    for row, item in enumerate(items):
        span = item.example.inputs.shape[1]
        inputs[row, :, :span] = item.example.inputs
        targets[row, :, :span] = item.example.targets
    hearing = [item for item in items if item.features is not None]
    features = positions = None
    if hearing:
        width = hearing[0].features.shape[1]
        frames = max(item.features.shape[0] for item in hearing)
        features = np.zeros((len(items), frames, width), np.float32)
        positions = []
        for row, item in enumerate(items):
            if item.features is None:
                positions.append(slice(0, 0))
                continue
            features[row, :item.features.shape[0]] = item.features
            positions.append(item.example.prompt.audio_positions)
        features = torch.from_numpy(features)
    return Batch(torch.from_numpy(inputs), torch.from_numpy(targets), features, positions)
