"""Reading a TOML file into a tree of dataclasses, checking every name and type on the way.

A file mirrors the dataclasses: `[llm] backend = "openai"` sets `config.llm.backend`.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    pass


def read_toml(path: str | Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML ({error})") from None


def apply_settings(target: Any, values: dict[str, Any], where: str) -> None:
    """Set a dataclass tree's fields from a TOML table, checking names and types."""
    fields = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown setting {key!r}; known: {', '.join(fields)}")
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            apply_settings(current, value, f"{where}.{key}")
        elif current is not None and (
            isinstance(value, bool) != isinstance(current, bool)
            or not isinstance(value, type(current))
            and not (isinstance(current, float) and isinstance(value, int))
        ):
            raise ConfigError(
                f"{where}: {key} must be {type(current).__name__}, got {type(value).__name__}"
            )
        else:
            setattr(target, key, float(value) if isinstance(current, float) else value)
