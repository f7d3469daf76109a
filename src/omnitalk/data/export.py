"""The finished items as a Hugging Face dataset folder: parquet, nested subsets, a card.

One row per exchange (a user turn and the assistant's reply, with the earlier exchanges of the
conversation as `history`). Audio is stored as WAV bytes in {"bytes", "path"} structs (the shape
of `datasets.Audio`); Whisper features as .npy bytes; SNAC frames and text ids as lists.

Subsets XS < S < M < L < XL are nested: conversations are put in a seeded random order in which
every user speaker appears once before any appears twice, and each subset is a prefix of that
order. Each tier (the conversations a subset adds to the one below) is written once, and a
subset's config in README.md lists its tiers' files: `load_dataset(folder, "m")`.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from omnitalk.data.items import Item, Turn

DATA = "data"


def _audio(root: Path, turn: Turn) -> dict:
    return {"bytes": (root / turn.audio).read_bytes(), "path": turn.audio}


def _frames(root: Path, turn: Turn) -> list[list[int]]:
    return np.load(root / turn.frames).astype(int).tolist() if turn.frames else []


def exchange_rows(item: Item, root: Path, subset: str) -> list[dict]:
    rows, history = [], []
    for index, (user, assistant) in enumerate(item.exchanges()):
        features = (root / user.features).read_bytes() if user.features else b""
        rows.append({
            "id": f"{item.id}#{index}", "conversation_id": item.id, "exchange": index,
            "source": item.source, "subset": subset, "history": list(history),
            "question": user.spoken, "question_text": user.text,
            "question_audio": _audio(root, user), "question_seconds": user.seconds,
            "question_speaker": user.speaker, "question_gender": user.gender,
            "question_style": json.dumps(user.style, sort_keys=True),
            "question_transcript": user.transcript, "question_error_rate": user.error_rate,
            "question_whisper_npy": features, "question_snac": _frames(root, user),
            "question_ids": list(user.text_ids),
            "answer": assistant.spoken, "answer_text": assistant.text,
            "answer_audio": _audio(root, assistant), "answer_seconds": assistant.seconds,
            "answer_speaker": assistant.speaker, "answer_gender": assistant.gender,
            "answer_transcript": assistant.transcript,
            "answer_error_rate": assistant.error_rate, "answer_snac": _frames(root, assistant),
            "answer_ids": list(assistant.text_ids),
        })
        history += [{"role": "user", "content": user.spoken},
                     {"role": "assistant", "content": assistant.spoken}]
    return rows


def subset_order(items: Sequence[Item], seed: int) -> list[Item]:
    """A seeded shuffle in which each user speaker's first item comes before any repeat."""
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    first, rest, seen = [], [], set()
    for item in shuffled:
        speaker = item.turns[0].speaker
        (rest if speaker in seen else first).append(item)
        seen.add(speaker)
    return first + rest


def tiers(items: Sequence[Item], shares: dict[str, float], seed: int) -> dict[str, list[Item]]:
    """Subset name -> the items it adds to the subset below it (nested prefixes)."""
    ordered = subset_order(items, seed)
    speakers = len({item.turns[0].speaker for item in items})
    out, start = {}, 0
    for name, share in shares.items():
        end = max(start, min(len(ordered), max(math.ceil(share * len(ordered)), speakers)))
        out[name] = ordered[start:end]
        start = end
    return out


def exchange_schema():
    """One schema for every tier file, so that a config's files read as one table."""
    import pyarrow as pa

    text, audio = pa.string(), pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    frames, ids = pa.list_(pa.list_(pa.int16())), pa.list_(pa.int32())
    fields = [("id", text), ("conversation_id", text), ("exchange", pa.int32()),
              ("source", text), ("subset", text),
              ("history", pa.list_(pa.struct([("role", text), ("content", text)])))]
    for side in ("question", "answer"):
        fields += [(side, text), (f"{side}_text", text), (f"{side}_audio", audio),
                   (f"{side}_seconds", pa.float64()), (f"{side}_speaker", text),
                   (f"{side}_gender", text)]
        if side == "question":
            fields.append(("question_style", text))
        fields += [(f"{side}_transcript", text), (f"{side}_error_rate", pa.float64())]
        if side == "question":
            fields.append(("question_whisper_npy", pa.binary()))
        fields += [(f"{side}_snac", frames), (f"{side}_ids", ids)]
    return pa.schema(fields)


def _write_parquet(rows: list[dict], path: Path, schema=None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _yaml_configs(files: dict[str, list[str]]) -> str:
    lines = ["configs:"]
    for name, paths in files.items():
        lines += [f"- config_name: {name}", "  data_files:", "  - split: train", "    path:"]
        lines += [f"    - {path}" for path in paths]
    return "\n".join(lines)


def export_dataset(items: Sequence[Item], root: Path, shares: dict[str, float], seed: int,
                   card: str, extra: dict[str, list[dict]] | None = None) -> Path:
    """Write `<root>/dataset` (replacing an earlier export as a whole) and return it.

    `extra` holds more tables (name -> rows), each written as its own config.
    """
    staging, final = root / "dataset.tmp", root / "dataset"
    shutil.rmtree(staging, ignore_errors=True)
    files: dict[str, list[str]] = {}
    written: list[str] = []
    for name, members in tiers(items, shares, seed).items():
        if members:
            relative = f"{DATA}/{name}.parquet"
            rows = [row for item in members for row in exchange_rows(item, root, name)]
            _write_parquet(rows, staging / relative, exchange_schema())
            written.append(relative)
        files[name] = list(written)
    for name, rows in (extra or {}).items():
        if rows:
            relative = f"{DATA}/{name}.parquet"
            _write_parquet(rows, staging / relative)
            files[name] = [relative]
    front = f"---\n{_yaml_configs(files)}\n---\n\n"
    (staging / "README.md").write_text(front + card, encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return final


def hours(items: Sequence[Item], role: str) -> float:
    return sum(t.seconds for item in items for t in item.turns if t.role == role) / 3600


def rate_summary(items: Sequence[Item]) -> str:
    rates = [item.error_rate for item in items if item.error_rate is not None]
    if not rates:
        return "-"
    return (f"median {statistics.median(rates):.1%}, p90 {np.percentile(rates, 90):.1%}, "
            f"max {max(rates):.1%}")


def record_rows(records: Sequence[dict], root: Path) -> list[dict]:
    """Duplex records as rows: their WAV and token files inlined as bytes."""
    rows = []
    for record in records:
        row = {k: v for k, v in record.items() if k not in ("audio", "tokens")}
        row["audio"] = {"bytes": (root / record["audio"]).read_bytes(), "path": record["audio"]}
        row["tokens_npz"] = (root / record["tokens"]).read_bytes()
        rows.append(row)
    return rows
