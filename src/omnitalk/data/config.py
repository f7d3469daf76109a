"""What a dataset build does, as dataclasses a TOML file fills in (`omnitalk data build FILE`).

```toml
name = "my-spoken-dialogues"
out_dir = "out/data/mine"

[source]
kind = "jsonl"            # sample | jsonl | parquet | hf
path = "chats.jsonl"

[rewrite]
backend = "llm"           # rules | llm (then [llm] says which one)
max_words = 40

[llm]
backend = "openai"
base_url = "http://127.0.0.1:8080/v1"
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omnitalk.config_file import ConfigError, apply_settings, read_toml
from omnitalk.engines.base import LLMConfig

SOURCE_KINDS = ("sample", "jsonl", "parquet", "hf")
REWRITE_BACKENDS = ("rules", "llm")


@dataclass
class SourceConfig:
    kind: str = "sample"  # the built-in conversations, or files / an HF dataset
    path: str = ""  # a file, a folder of files, or a dataset saved with save_to_disk
    split: str = "train"  # hf: which split
    limit: int = 0  # keep the first N conversations (0: all)
    max_exchanges: int = 3  # user/assistant exchanges kept per conversation


@dataclass
class RewriteConfig:
    backend: str = "rules"
    max_words: int = 40  # longest spoken reply (KE-Omni kept about 100 characters)


@dataclass
class FilterConfig:
    max_question_words: int = 60
    max_source_answer_words: int = 120  # longer answers are essays, not spoken replies
    max_symbol_share: float = 0.1  # non-letter, non-space characters over all characters
    # "module:function" taking (user text, assistant text) and returning a reason or None.
    safety: str = ""


@dataclass
class SynthesisConfig:
    # Piper voices (.onnx, .onnx.json beside it); empty: the packaged en_US-joe-medium.
    assistant_voice: str = ""
    user_voices: list = field(default_factory=lambda: [""])
    genders: dict = field(default_factory=lambda: {"en_US-joe-medium": "male"})
    # Users vary; the assistant keeps one voice and style (as Mini-Omni's data does).
    user_length_scales: list = field(default_factory=lambda: [0.9, 1.0, 1.15])
    # Piper draws its noise inside the ONNX graph without a seed: with any noise > 0 a rebuild
    # (not a resume) gives other audio. 0 everywhere makes builds repeatable bit for bit.
    user_noise_scales: list = field(default_factory=lambda: [0.5, 0.667])
    user_noise_w_scales: list = field(default_factory=lambda: [0.6, 0.8])
    assistant_length_scale: float = 1.0
    assistant_noise_scale: float = 0.667
    assistant_noise_w_scale: float = 0.8


@dataclass
class VerifyConfig:
    max_wer: float = 0.10  # English: word error rate of ASR on the synthetic speech
    max_cer: float = 0.05  # Chinese: character error rate


@dataclass
class TokeniseConfig:
    # CTranslate2 Whisper folder for input features; empty: the packaged tiny.en (384 wide).
    whisper: str = ""
    # SNAC folder (config.json + pytorch_model.bin). Empty: a randomly initialised SNAC 24 kHz
    # (seed 0), so that the format and the training mechanics can be exercised; the card says so.
    snac: str = ""
    # tokenizer.json for text ids; empty: the packaged SmolLM2's (the default training backbone).
    text_tokenizer: str = ""


@dataclass
class ExportConfig:
    # Nested random subsets: each the given share of all items (at least one per speaker).
    subsets: dict = field(default_factory=lambda: {
        "xs": 0.05, "s": 0.15, "m": 0.35, "l": 0.65, "xl": 1.0})


@dataclass
class DuplexConfig:
    dialogues: int = 20  # two-channel dialogues simulated from multi-exchange items
    interruptions: int = 20  # "stop omni" samples with per-frame interrupt labels
    gap_mean_s: float = 1.2  # pause from the assistant's end to the next user turn
    gap_std_s: float = 0.6
    snr_db: list = field(default_factory=lambda: [15.0, 25.0])  # user-channel noise, uniform
    noise_dir: str = ""  # audio files of noise; empty: generated coloured noise
    command: str = "stop omni"


@dataclass
class DataConfig:
    name: str = "omnitalk-spoken-dialogue"
    out_dir: str = "out/data/sample"
    language: str = "en"  # en: WER on words; zh: CER on characters
    seed: int = 0
    workers: int = 2
    source: SourceConfig = field(default_factory=SourceConfig)
    rewrite: RewriteConfig = field(default_factory=RewriteConfig)
    llm: LLMConfig = field(default_factory=lambda: LLMConfig(temperature=0.0, max_tokens=160))
    filter: FilterConfig = field(default_factory=FilterConfig)
    synthesis: SynthesisConfig = field(default_factory=SynthesisConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    tokenise: TokeniseConfig = field(default_factory=TokeniseConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    duplex: DuplexConfig = field(default_factory=DuplexConfig)


def load_data_config(path: str | Path | None) -> DataConfig:
    config = DataConfig()
    if path is not None:
        apply_settings(config, read_toml(path), str(path))
    where = str(path or "defaults")
    if config.source.kind not in SOURCE_KINDS:
        raise ConfigError(f"{where}: source.kind must be one of {', '.join(SOURCE_KINDS)}")
    if config.source.kind != "sample" and not config.source.path:
        raise ConfigError(f"{where}: source.path is needed for a {config.source.kind} source")
    if config.rewrite.backend not in REWRITE_BACKENDS:
        raise ConfigError(f"{where}: rewrite.backend must be one of "
                          f"{', '.join(REWRITE_BACKENDS)}")
    if config.language not in ("en", "zh"):
        raise ConfigError(f"{where}: language must be en or zh")
    if config.workers < 1 or config.source.max_exchanges < 1 or config.rewrite.max_words < 1:
        raise ConfigError(f"{where}: workers, source.max_exchanges and rewrite.max_words must be "
                          "at least 1")
    shares = list(config.export.subsets.values())
    if not shares or shares != sorted(shares) or not all(0 < s <= 1 for s in shares):
        raise ConfigError(f"{where}: export.subsets must grow from small to large shares in "
                          "(0, 1], e.g. {xs = 0.05, s = 0.15, ..., xl = 1.0}")
    return config
