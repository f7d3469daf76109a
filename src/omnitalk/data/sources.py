"""Conversations in: the built-in sample, JSONL, parquet, or a Hugging Face dataset.

Each record needs `messages` ([{"role", "content"}], the OpenAI chat shape) or `conversations`
([{"from": "human"|"gpt", "value"}], the ShareGPT shape). System messages are dropped; the first
`max_exchanges` user -> assistant exchanges are kept. Records that do not fit are counted by
reason, not fatal: a big dump always has some.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from omnitalk.data.config import SourceConfig
from omnitalk.data.items import Item, Turn
from omnitalk.engines.base import EngineError

_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant",
          "system": "system"}


class SourceError(EngineError):
    pass


def _records(config: SourceConfig) -> Iterator[dict]:
    if config.kind == "sample":
        from omnitalk.data.sample import sample_conversations

        yield from sample_conversations()
        return
    path = Path(config.path)
    if not path.exists():
        raise SourceError(f"source not found: {path}")
    if config.kind == "jsonl":
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            with file.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        yield {"_malformed": f"{file.name}:{number}: not JSON"}
    elif config.kind == "parquet":
        import pyarrow.parquet as pq

        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        for file in files:
            try:
                table = pq.read_table(file)
            except Exception as error:
                raise SourceError(f"{file}: not a readable parquet file ({error})") from None
            yield from table.to_pylist()
    else:
        yield from _hf_records(path, config.split)


def _hf_records(path: Path, split: str) -> Iterable[dict]:
    import datasets

    try:
        if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                loaded = loaded[split]
        else:
            loaded = datasets.load_dataset(str(path), split=split)
    except (FileNotFoundError, KeyError, ValueError) as error:
        raise SourceError(f"{path}: cannot read split {split!r} as a dataset ({error})") from None
    return loaded


def _turns(record: dict, max_exchanges: int) -> tuple[Turn, ...] | str:
    """The kept turns, or the reason the record does not fit."""
    if "_malformed" in record:
        return "malformed"
    raw = record.get("messages")
    if raw is None and "conversations" in record:
        raw = [{"role": m.get("from"), "content": m.get("value")}
               for m in record["conversations"] if isinstance(m, dict)]
    if not isinstance(raw, list):
        return "no_messages"
    turns = []
    for message in raw:
        if not isinstance(message, dict):
            return "malformed"
        role = _ROLES.get(str(message.get("role", "")).lower())
        content = message.get("content")
        if role is None or not isinstance(content, str):
            return "malformed"
        if role != "system":
            turns.append(Turn(role=role, text=content.strip()))
    expected = ["user", "assistant"] * (len(turns) // 2)
    if len(turns) < 2 or [t.role for t in turns[:len(expected)]] != expected:
        return "not_user_then_assistant"
    return tuple(turns[:2 * max_exchanges])


def load_items(config: SourceConfig, name: str = "") -> tuple[list[Item], Counter]:
    """The conversations as items, in source order, and a count of the records left out."""
    items, left_out = [], Counter()
    source = name or config.kind
    seen: set[str] = set()
    for index, record in enumerate(_records(config)):
        if config.limit and len(items) >= config.limit:
            break
        turns = _turns(record if isinstance(record, dict) else {"_malformed": ""},
                       config.max_exchanges)
        if isinstance(turns, str):
            left_out[turns] += 1
            continue
        item_id = str(record.get("id") or f"{source}-{index:07d}")
        if item_id in seen:
            left_out["duplicate_id"] += 1
            continue
        seen.add(item_id)
        items.append(Item(id=item_id, source=source, turns=turns,
                          expect=str(record.get("expect", ""))))
    return items, left_out
