"""Whole builds with the real TTS (Piper) and ASR (Whisper tiny.en): the dataset they export,
and a build killed mid-way that resumes to the same dataset as an uninterrupted one.
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from omnitalk.data.build import build_dataset
from omnitalk.data.config import load_data_config
from omnitalk.data.sample import sample_conversations
from omnitalk.duplex.flatten import FlatLayout
from omnitalk.omni.layout import whisper_frames

pytestmark = pytest.mark.real_models

SEEDED_DROPS = ("code", "markdown", "too_long", "table", "email", "lyrics", "long_form")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Seven short conversations, two multi-turn ones, and one of each seeded unsuitable kind."""
    conversations = sample_conversations()
    single = [c for c in conversations if c["expect"] == "keep" and len(c["messages"]) == 2]
    multi = [c for c in conversations if c["expect"] == "keep" and len(c["messages"]) > 2]
    chosen = single[:7] + multi[:2]
    chosen += [next(c for c in conversations if c["expect"] == kind) for kind in SEEDED_DROPS]
    path = tmp_path_factory.mktemp("source") / "chats.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in chosen))
    return path, chosen


def write_config(folder, source_path, workers: int) -> os.PathLike:
    """Deterministic synthesis (no Piper noise), so that two builds can be compared."""
    config = folder / "build.toml"
    config.write_text(f"""
name = "test-build"
out_dir = "{folder / 'out'}"
workers = {workers}
[source]
kind = "jsonl"
path = "{source_path}"
[synthesis]
user_length_scales = [0.95, 1.1]
user_noise_scales = [0.0]
user_noise_w_scales = [0.0]
assistant_noise_scale = 0.0
assistant_noise_w_scale = 0.0
[duplex]
dialogues = 2
interruptions = 4
""")
    return config


@pytest.fixture(scope="module")
def built(source, tmp_path_factory):
    folder = tmp_path_factory.mktemp("build")
    config = load_data_config(write_config(folder, source[0], workers=1))
    dataset, report = build_dataset(config)
    return config, dataset, report


def read(dataset, name):
    """A subset as `datasets` reads it (a cache of its own: datasets caches by folder name)."""
    import datasets

    return datasets.load_dataset(str(dataset), name, split="train",
                                 cache_dir=str(dataset.parent / "hf-cache"))


def test_seeded_unsuitable_conversations_are_dropped_for_their_reason(built, source):
    _, _, report = built
    _, chosen = source
    for conversation in chosen:
        if conversation["expect"] != "keep":
            drop = report.drops[conversation["id"]]
            assert (drop["stage"], drop["reason"]) == ("screen", conversation["expect"])
    screen = report.stages[0]
    assert sum(screen.dropped.values()) == len(SEEDED_DROPS)


def test_the_exported_rows_hold_audio_durations_error_rates_and_tokens(built):
    config, dataset, report = built
    rows = read(dataset, "xl")
    assert len(rows) == sum(len(item.exchanges()) for item in report.items)
    assert len(report.items) >= 7  # verification may drop a few, never most
    for row in rows:
        for side in ("question", "answer"):
            audio, rate = sf.read(io.BytesIO(row[f"{side}_audio"]["bytes"]))
            assert abs(audio.size / rate - row[f"{side}_seconds"]) < 1e-3
            assert 0 <= row[f"{side}_error_rate"] <= 1
            assert row[f"{side}_ids"] and row[f"{side}_snac"]
            assert len(row[f"{side}_snac"]) == math.ceil(audio.size * 24000 / rate / 2048)
        features = np.load(io.BytesIO(row["question_whisper_npy"]))
        assert features.shape == (whisper_frames(round(row["question_seconds"] * 16000)), 384)
        assert row["question_speaker"] == row["answer_speaker"] == "en_US-joe-medium"
    for item in report.items:
        assert item.error_rate <= config.verify.max_wer
    multi = [row for row in rows if row["exchange"] > 0]
    assert multi and all(len(row["history"]) == 2 * row["exchange"] for row in multi)


def test_subsets_are_nested_and_the_card_tells_how_the_data_was_made(built):
    _, dataset, report = built
    previous: set[str] = set()
    for name in ("xs", "s", "m", "l", "xl"):
        ids = set(read(dataset, name)["conversation_id"])
        assert previous <= ids
        previous = ids
    card = (dataset / "README.md").read_text()
    assert "| screen | 16 | 9 |" in card and "code 1" in card and "markdown 1" in card
    assert "randomly initialised SNAC" in card


def test_duplex_dialogues_and_interruption_samples(built):
    _, dataset, _ = built
    for row in read(dataset, "dialogues"):
        audio, rate = sf.read(io.BytesIO(row["audio"]["bytes"]))
        assert rate == 24000 and audio.shape[1] == 2
        user, assistant = row["segments"][0], row["segments"][1]
        assert user["speaker"] == "user" and assistant["start"] == user["end"]
        assert 15 <= row["snr_db"] <= 25
        tokens = np.load(io.BytesIO(row["tokens_npz"]))
        layout = FlatLayout(text_vocab=row["text_vocab"])
        assert tokens["flat"].size == row["chunks"] * layout.chunk_length
        assert (tokens["assistant_frames"] == -1).any() and (tokens["assistant_frames"] >= 0).any()
    kinds = set()
    for row in read(dataset, "interruptions"):
        labels = np.load(io.BytesIO(row["tokens_npz"]))["labels"]
        kinds.add(row["kind"])
        if row["kind"] == "command":
            assert row["user_says"] == "stop omni"
            assert labels[row["interrupt_from_frame"]:].all()
            assert not labels[:row["interrupt_from_frame"]].any()
        else:
            assert not labels.any()
    assert kinds == {"command", "other_speech"}


def test_a_killed_build_resumes_to_the_same_dataset(source, built, tmp_path):
    """Killed mid-way with two workers and resumed, the build gives the dataset that the
    uninterrupted one-worker build (the module's) gave."""
    command = [sys.executable, "-m", "omnitalk.cli", "data", "build"]
    whole = Path(built[0].out_dir).parent

    cut = tmp_path / "cut"
    cut.mkdir()
    config = write_config(cut, source[0], workers=2)
    process = subprocess.Popen([*command, str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    synthesised = cut / "out" / "stages" / "synthesise"
    deadline = time.monotonic() + 600
    while len(list(synthesised.glob("*.json"))) < 3:
        assert process.poll() is None, "the build ended before it could be killed"
        assert time.monotonic() < deadline, "the build did not get going"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the whole build, worker processes included
    process.wait()
    assert not (cut / "out" / "dataset").exists()
    finished = {path: path.stat().st_mtime_ns for path in synthesised.glob("*.json")}
    assert 3 <= len(finished) < 9
    audio = {path: path.stat().st_mtime_ns for path in (cut / "out" / "audio").rglob("*.wav")}

    resumed = subprocess.run([*command, str(config)], capture_output=True, text=True,
                             timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    # Finished work was not redone: its results and audio files are untouched.
    for path, stamp in {**finished, **audio}.items():
        if path in finished or path.parent.name + ".json" in {p.name for p in finished}:
            assert path.stat().st_mtime_ns == stamp, path
    for part in sorted((whole / "out" / "dataset" / "data").glob("*.parquet")):
        ours = pq.read_table(cut / "out" / "dataset" / "data" / part.name)
        assert ours.equals(pq.read_table(part)), part.name
    for stage in ("synthesise", "verify", "tokenise"):
        for result in (whole / "out" / "stages" / stage).glob("*.json"):
            assert result.read_text() == (cut / "out" / "stages" / stage / result.name).read_text()
