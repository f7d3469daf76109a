"""Smart Turn v3.2 (pipecat's end-of-turn model) on real speech, and its failure modes."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from omnitalk.audio.io import load_audio
from omnitalk.duplex.smart_turn import (
    INSTALL_COMMAND,
    WINDOW_SAMPLES,
    SmartTurn,
    SmartTurnConfig,
    smart_turn_model_path,
)
from omnitalk.engines.base import EngineError

JFK = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "speech" / "jfk.flac"
RATE = 16000


@pytest.fixture(scope="module")
def turn() -> SmartTurn:
    return SmartTurn()


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    # "And so my fellow Americans, ask not what your country can do for you,
    #  ask what you can do for your country." (11 s)
    return load_audio(JFK, RATE)


def until(audio: np.ndarray, seconds: float) -> np.ndarray:
    return audio[: int(seconds * RATE)]


@pytest.mark.real_models
def test_the_finished_sentence_is_judged_complete(turn, jfk):
    assert turn.complete_probability(jfk) > turn.config.threshold
    assert turn.is_complete(jfk)


@pytest.mark.real_models
@pytest.mark.parametrize(
    "seconds",
    [
        5.0,  # the silent pause after "ask not": silence, but the sentence is unfinished
        6.0,  # inside "what your country"
        10.0,  # inside the last "for your country", before its final word ends
    ],
)
def test_a_turn_cut_mid_phrase_is_less_complete_than_the_finished_sentence(turn, jfk, seconds):
    cut = turn.complete_probability(until(jfk, seconds))
    assert cut < turn.complete_probability(jfk)
    assert cut < turn.config.threshold


@pytest.mark.real_models
def test_only_the_last_eight_seconds_count(turn, jfk):
    assert jfk.size > WINDOW_SAMPLES
    assert turn.complete_probability(jfk) == pytest.approx(
        turn.complete_probability(jfk[-WINDOW_SAMPLES:]), abs=1e-6
    )


@pytest.mark.real_models
def test_a_short_turn_is_judged_as_if_silence_came_before_it(turn, jfk):
    short = until(jfk, 3.0)
    padded = np.concatenate([np.zeros(WINDOW_SAMPLES - short.size, np.float32), short])
    assert turn.complete_probability(short) == pytest.approx(
        turn.complete_probability(padded), abs=1e-6
    )


@pytest.mark.real_models
def test_features_match_the_transformers_whisper_extractor_pipecat_mirrors(turn, jfk):
    transformers = pytest.importorskip("transformers")
    extractor = transformers.WhisperFeatureExtractor(chunk_length=8)
    for audio in (jfk, until(jfk, 3.0)):
        window = np.concatenate([np.zeros(WINDOW_SAMPLES, np.float32), audio])[-WINDOW_SAMPLES:]
        reference = extractor(
            window,
            sampling_rate=RATE,
            padding="max_length",
            max_length=WINDOW_SAMPLES,
            truncation=True,
            do_normalize=True,
            return_tensors="np",
        ).input_features[0]
        ours = turn.features(audio)
        assert ours.shape == (80, 800) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, reference, atol=1e-4)


@pytest.mark.real_models
@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros((2, RATE), np.float32), "1-D"),
        (np.zeros(0, np.float32), "at least one sample"),
        (np.array([0.1, np.nan, 0.2], np.float32), "NaN or infinite"),
        (np.array([0.1, np.inf], np.float32), "NaN or infinite"),
        (np.zeros(RATE, np.int16), "float audio"),
    ],
)
def test_bad_audio_is_refused_with_a_specific_message(turn, audio, message):
    with pytest.raises(ValueError, match=message):
        turn.complete_probability(audio)


def test_a_missing_pipecat_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pipecat" else real(name, *a)
    )
    with pytest.raises(EngineError, match="pipecat-ai") as raised:
        SmartTurn()
    assert INSTALL_COMMAND in str(raised.value)


def test_a_pipecat_without_the_model_file_names_the_install_command(monkeypatch, tmp_path):
    empty = importlib.machinery.ModuleSpec("pipecat", None, is_package=True)
    empty.submodule_search_locations = [str(tmp_path)]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: empty if name == "pipecat" else real(name, *a)
    )
    with pytest.raises(EngineError, match="smart-turn-v3.2-cpu.onnx") as raised:
        smart_turn_model_path()
    assert INSTALL_COMMAND in str(raised.value)


def test_a_model_path_that_does_not_exist_is_an_engine_error(tmp_path):
    with pytest.raises(EngineError, match="no Smart Turn model"):
        SmartTurn(SmartTurnConfig(model=str(tmp_path / "absent.onnx")))


@pytest.mark.real_models
def test_loading_the_model_does_not_import_pipecat():
    # In a fresh interpreter: importing pipecat would drag in its whole dependency tree.
    code = (
        "import sys\n"
        "from omnitalk.duplex.smart_turn import SmartTurn\n"
        "SmartTurn()\n"
        "assert 'pipecat' not in sys.modules, 'pipecat was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
