"""SyncLLM's time-synchronous interleave of two speakers' units, with speaker tags.

Units are single-codebook ids (SyncLLM: 25 Hz HuBERT units, a vocabulary of 501). Time is cut
into chunks of `chunk_units` units per speaker (SyncLLM: 4 units = 160 ms), and each chunk is
written as [S0] + the model's own chunk, then [S1] + the user's chunk, each de-duplicated:
SILENT units (-1: this speaker makes no sound there) are left out and consecutive repeats
collapse to one unit, within the chunk only, so a run that crosses a chunk boundary is written
once in each chunk. Both tags are written every chunk, even before an empty one, so they tick
like a clock: a position's time is the number of tags before it. Ids: units first, then [S0]
and [S1].

`interpolate` stretches de-duplicated chunks back to `chunk_units` units each for a vocoder,
every unit repeated about equally often (counts differ by at most one, earlier units first).

What a round trip keeps and loses:
- interleave -> deinterleave gives back exactly each speaker's de-duplicated chunks;
- interpolate of those restores every chunk's length and its sequence of distinct units, so
  units with no repeat and no SILENT inside any chunk come back identical;
- lost: how long each run was ([a, a, a, b] comes back [a, a, b, b]) and where SILENT units
  sat in a chunk that also has sound ([a, -1, -1, b] comes back [a, a, b, b]); a chunk that
  was SILENT throughout comes back SILENT throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omnitalk.duplex.flatten import SILENT  # in a speaker's units too: no sound here


@dataclass(frozen=True)
class InterleaveLayout:
    unit_vocab: int = 501  # SyncLLM's HuBERT units: ids below it
    chunk_units: int = 4  # units per speaker per chunk: 4 x 40 ms = 160 ms at 25 Hz

    def __post_init__(self) -> None:
        if self.unit_vocab < 1 or self.chunk_units < 1:
            raise ValueError("unit_vocab and chunk_units must be positive")

    @property
    def model_tag(self) -> int:  # [S0]: the model's own chunk follows
        return self.unit_vocab

    @property
    def user_tag(self) -> int:  # [S1]: the user's chunk follows
        return self.unit_vocab + 1

    @property
    def vocab(self) -> int:
        return self.unit_vocab + 2


def deduplicate(chunk: np.ndarray) -> np.ndarray:
    """One chunk's units with SILENT left out and consecutive repeats collapsed."""
    units = np.asarray(chunk, np.int64)
    units = units[units != SILENT]
    distinct = np.ones(units.size, bool)
    distinct[1:] = units[1:] != units[:-1]
    return units[distinct]


def interleave(model: np.ndarray, user: np.ndarray, layout: InterleaveLayout) -> np.ndarray:
    """model [T] and user [T] units or SILENT -> per chunk [S0] model chunk [S1] user chunk.

    Units after the last whole chunk are left out.
    """
    model, user = _units(model, "model", layout), _units(user, "user", layout)
    if model.size != user.size:
        raise ValueError(f"model has {model.size} units and user {user.size}: both speakers "
                         f"run on one clock")
    size = layout.chunk_units
    parts = []
    for start in range(0, model.size - size + 1, size):
        parts += [np.array([layout.model_tag]), deduplicate(model[start:start + size]),
                  np.array([layout.user_tag]), deduplicate(user[start:start + size])]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def deinterleave(sequence: np.ndarray,
                 layout: InterleaveLayout) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The inverse of `interleave`: the model's and the user's de-duplicated chunks."""
    ids = np.asarray(sequence, np.int64)
    if ids.ndim != 1:
        raise ValueError(f"an interleaved sequence is one-dimensional, got shape "
                         f"{list(ids.shape)}")
    bad = (ids < 0) | (ids >= layout.vocab)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"position {k}: id {int(ids[k])} is neither a unit "
                         f"(0-{layout.unit_vocab - 1}) nor a speaker tag")
    tags = np.flatnonzero(ids >= layout.unit_vocab)
    if ids.size and (not tags.size or tags[0] != 0):
        raise ValueError(f"an interleaved sequence opens with [S0], not id {int(ids[0])}")
    expected = np.where(np.arange(tags.size) % 2, layout.user_tag, layout.model_tag)
    wrong = np.flatnonzero(ids[tags] != expected)
    if wrong.size:
        position, step = int(tags[wrong[0]]), int(wrong[0]) // 2
        speaker = "[S1]" if wrong[0] % 2 else "[S0]"
        raise ValueError(f"position {position}: time step {step} needs {speaker} here; "
                         f"the tags alternate [S0] [S1]")
    if tags.size % 2:
        raise ValueError(f"the sequence ends inside time step {tags.size // 2}: its [S1] "
                         f"chunk is missing")
    chunks = []
    for number, tagged in enumerate(np.split(ids, tags)[1:]):
        chunk = tagged[1:]
        speaker = f"time step {number // 2}, {'[S1]' if number % 2 else '[S0]'} chunk"
        if chunk.size > layout.chunk_units:
            raise ValueError(f"{speaker} has {chunk.size} units, more than a chunk's "
                             f"{layout.chunk_units}")
        if (chunk[1:] == chunk[:-1]).any():
            raise ValueError(f"{speaker} repeats a unit back to back: not de-duplicated")
        chunks.append(chunk)
    return chunks[0::2], chunks[1::2]


def interpolate(chunks: Sequence[np.ndarray], layout: InterleaveLayout) -> np.ndarray:
    """De-duplicated chunks -> [len(chunks) * chunk_units] units, each chunk stretched by
    repetition spread evenly; an empty chunk becomes SILENT throughout."""
    size = layout.chunk_units
    out = np.full((len(chunks), size), SILENT, np.int64)
    for number, chunk in enumerate(chunks):
        chunk = _units(chunk, f"chunk {number}", layout)
        if chunk.size > size:
            raise ValueError(f"chunk {number} has {chunk.size} units: more than the "
                             f"{size} it is stretched to")
        if (chunk == SILENT).any():
            raise ValueError(f"chunk {number} holds SILENT: de-duplicated chunks leave it out")
        if chunk.size:
            # Output slot i shows unit floor(i * n / size): every unit, in order, n <= size.
            out[number] = chunk[np.arange(size) * chunk.size // size]
    return out.reshape(-1)


def _units(units: np.ndarray, name: str, layout: InterleaveLayout) -> np.ndarray:
    units = np.asarray(units, np.int64)
    if units.ndim != 1:
        raise ValueError(f"{name} units must be one-dimensional, got shape {list(units.shape)}")
    bad = (units != SILENT) & ((units < 0) | (units >= layout.unit_vocab))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} unit {k} is {int(units[k])}: neither a unit "
                         f"(0-{layout.unit_vocab - 1}) nor SILENT")
    return units
