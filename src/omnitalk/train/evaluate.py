"""How a talker does on held-out conversations: loss per stream, and what it actually says.

- loss per stream: teacher-forced, over the held-out examples of the stage's tasks;
- ASR word error rate of the text stream: the ASR task decoded greedily by the real decoder;
- answers: held-out spoken questions answered in text (A1->T2), kept for the report as they are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import jiwer
import torch

from omnitalk.omni import layout as lo
from omnitalk.omni.decoding import TEXT_ONLY, decode
from omnitalk.omni.settings import DecodingOptions
from omnitalk.omni.targets import stream_losses
from omnitalk.text.wer import normalise_for_wer
from omnitalk.train.collate import TaskExample, collate
from omnitalk.train.data import Exchange


@dataclass
class Evaluation:
    step: int
    losses: dict[str, float]
    asr_wer: float | None = None
    samples: list[dict] = field(default_factory=list)  # question, expected, said


@torch.no_grad()
def held_out_losses(model, examples: list[TaskExample], batch_size: int) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for start in range(0, len(examples), batch_size):
        batch = collate(examples[start:start + batch_size], model.config.vocab)
        for name, loss in stream_losses(model, batch.inputs, batch.targets,
                                        **batch.model_inputs()).items():
            sums[name] += float(loss)
            counts[name] += 1
    return {name: sums[name] / counts[name] for name in sums}


def say(model, tokenizer, exchange: Exchange, task: lo.Task, max_steps: int = 64) -> str:
    """Greedy text for a spoken question (ASR or A1->T2), through the real decoder."""
    prompt = lo.speech_prompt(task, exchange.question_features.shape[0], model.config.vocab)
    features = torch.from_numpy(exchange.question_features)[None].to(model.device)
    steps = decode(model, [prompt], TEXT_ONLY, DecodingOptions(max_steps=max_steps),
                   {"audio_features": features, "audio_positions": prompt.audio_positions})
    return tokenizer.decode([s.text for s in steps if s.text is not None]).strip()


def evaluate(model, tokenizer, step: int, examples: list[TaskExample],
             exchanges: list[Exchange], tasks: list[str], batch_size: int) -> Evaluation:
    was_training = model.training
    model.eval()
    try:
        result = Evaluation(step, held_out_losses(model, examples, batch_size) if examples
                            else {})
        if exchanges and "asr" in tasks:
            heard = [say(model, tokenizer, e, lo.Task.ASR) for e in exchanges]
            result.asr_wer = float(jiwer.wer([normalise_for_wer(e.question) or "-"
                                              for e in exchanges],
                                             [normalise_for_wer(h) for h in heard]))
            result.samples += [{"task": "asr", "question": e.question, "expected": e.question,
                                "said": h} for e, h in zip(exchanges, heard, strict=True)][:8]
        if exchanges and {"a1t2", "a1a2"} & set(tasks):
            result.samples += [{"task": "a1t2", "question": e.question, "expected": e.answer,
                                "said": say(model, tokenizer, e, lo.Task.A1T2)}
                               for e in exchanges[:8]]
        return result
    finally:
        model.train(was_training)
