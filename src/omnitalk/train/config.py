"""A training stage, as a TOML file: what starts it, what data and tasks, what learns, how long.

The stages of the recipe ship with omnitalk (`omnitalk/train/stages/*.toml`) and are named by
file stem: `omnitalk train stage1-align`. Any other file works as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omnitalk.config_file import ConfigError, apply_settings, read_toml

STAGES = Path(__file__).parent / "stages"
TASKS = ("asr", "tts", "a1t2", "a1a2", "t1a2", "t1t2")
PARTS = ("adapter", "llm", "text_rows", "new_rows", "all")
PRECISIONS = ("no", "bf16", "fp16")


@dataclass
class TrainConfig:
    name: str = "stage"
    out_dir: str = "out/train/stage"
    data: str = "out/data/sample/dataset"  # a folder made by `omnitalk data build`
    subset: str = "xl"
    held_out: float = 0.1  # share of conversations kept out of training, for evaluation
    # Where the talker comes from: `init` (a checkpoint of an earlier stage) if given, else
    # `backbone` made into a talker: a transformers folder, a .gguf file, "" for the packaged
    # SmolLM2-135M, or "tiny" for a random 4-layer Llama with SmolLM2's vocabulary.
    init: str = ""
    backbone: str = ""
    # The SNAC the dataset's codes came from ("" : the random SNAC the factory uses without
    # weights); copied into checkpoints so that they decode what they were taught.
    snac: str = ""
    tasks: list = field(default_factory=lambda: ["asr", "tts"])
    train: list = field(default_factory=lambda: ["adapter", "new_rows"])  # the parts that learn
    steps: int = 400
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 1e-3
    warmup: int = 20
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0  # gradients are clipped to this norm
    text_weight: float = 1.0  # loss weight of the text stream
    audio_weight: float = 1.0  # loss weight of each audio layer (averaged over the 7)
    max_answer_frames: int = 300  # longer spoken answers are left out (25.6 s)
    precision: str = "bf16"  # accelerate's mixed precision: no | bf16 | fp16
    eval_every: int = 100
    save_every: int = 100
    eval_examples: int = 24
    seed: int = 0
    threads: int = 2


def stage_path(name_or_path: str | Path) -> Path:
    """A shipped stage by name, or a file."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = STAGES / f"{name_or_path}.toml"
    if shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in STAGES.glob("*.toml")))
    raise ConfigError(f"no training config {name_or_path!r}: give a TOML file or one of: {known}")


def load_train_config(name_or_path: str | Path) -> TrainConfig:
    path = stage_path(name_or_path)
    config = TrainConfig()
    apply_settings(config, read_toml(path), str(path))
    check(config, str(path))
    return config


def check(config: TrainConfig, path: str) -> None:
    unknown = set(config.tasks) - set(TASKS)
    if unknown or not config.tasks:
        raise ConfigError(f"{path}: tasks must come from {', '.join(TASKS)}")
    if set(config.train) - set(PARTS) or not config.train:
        raise ConfigError(f"{path}: train must list parts from {', '.join(PARTS)}")
    if config.precision not in PRECISIONS:
        raise ConfigError(f"{path}: precision must be one of {', '.join(PRECISIONS)}")
    if min(config.steps, config.batch_size, config.grad_accum) < 1 or config.lr <= 0:
        raise ConfigError(f"{path}: steps, batch_size and grad_accum must be at least 1 and "
                          "lr positive")
    if not 0 <= config.held_out < 1:
        raise ConfigError(f"{path}: held_out must be in [0, 1)")
