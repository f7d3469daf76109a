"""Training examples from a dataset folder made by `omnitalk data build`.

Each exchange gives what every task needs: the question's Whisper features and text ids, the
answer's text ids and SNAC frames, and both spoken texts (for the ASR check). Conversations,
not exchanges, are split between training and held-out, so that no held-out question has a
sibling in training.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnitalk.engines.base import EngineError


@dataclass(frozen=True)
class Exchange:
    conversation: str
    question: str  # spoken text
    answer: str
    question_ids: tuple[int, ...]
    answer_ids: tuple[int, ...]
    question_features: np.ndarray  # [frames, width] float32
    answer_frames: np.ndarray  # [n, 7] SNAC frames


def load_exchanges(folder: str | Path, subset: str, cache_dir: str | Path) -> list[Exchange]:
    import datasets

    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise EngineError(f"{folder}: not a dataset folder made by `omnitalk data build` "
                          "(no README.md with its subsets)")
    try:
        rows = datasets.load_dataset(str(folder), subset, split="train",
                                     cache_dir=str(cache_dir))
    except ValueError as error:
        raise EngineError(f"{folder}: no subset {subset!r} ({error})") from None
    return [Exchange(
        conversation=row["conversation_id"], question=row["question"], answer=row["answer"],
        question_ids=tuple(row["question_ids"]), answer_ids=tuple(row["answer_ids"]),
        question_features=np.load(io.BytesIO(row["question_whisper_npy"])).astype(np.float32),
        answer_frames=np.asarray(row["answer_snac"], dtype=np.int64).reshape(-1, 7),
    ) for row in rows]


def split(exchanges: list[Exchange], held_out: float,
          seed: int) -> tuple[list[Exchange], list[Exchange]]:
    """(training, held-out), whole conversations on one side."""
    conversations = sorted({e.conversation for e in exchanges})
    random.Random(seed).shuffle(conversations)
    kept_out = set(conversations[:round(held_out * len(conversations))])
    return ([e for e in exchanges if e.conversation not in kept_out],
            [e for e in exchanges if e.conversation in kept_out])
