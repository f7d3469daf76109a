"""Training stages on a tiny talker: it learns and decodes what it learnt, frozen parts stay
bit-identical, a killed run resumes to the same weights, and the result answers in `talk`.

The data is a dataset folder in the exact export format of `omnitalk data build`, written here
from real speech (the fixtures) through the real Whisper tiny.en encoder, with short answers
and random SNAC codes.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from conftest import FIXTURES
from omnitalk.audio.io import load_audio
from omnitalk.data.export import _yaml_configs, exchange_schema
from omnitalk.omni.checkpoint import load_checkpoint, save_talker
from omnitalk.omni.inference import OmniInference
from omnitalk.omni.settings import OmniPaths, OmniSettings
from omnitalk.omni.whisper import CTranslate2WhisperFeatures
from omnitalk.train.collate import task_examples
from omnitalk.train.config import TrainConfig, check
from omnitalk.train.data import load_exchanges
from omnitalk.train.evaluate import held_out_losses
from omnitalk.train.surgery import load_lm, talker_from_lm
from omnitalk.train.trainer import Trainer, mean_over_processes

pytestmark = pytest.mark.real_models  # the packaged Whisper tiny.en and SmolLM2 tokenizer

QUESTIONS = {  # a fixture, what its first 2.5 s say, and the answer the talker is taught
    "jfk.flac": ("And so my fellow Americans", "Ask what you can do."),
    "LJ002-0020.wav": ("In eighteen thirteen", "That was long ago."),
    "common_voice_en_651325.mp3": ("Every purchase is a vote.", "Spend wisely then."),
    "ES2011a.Headset-0-40s-46s.wav": ("I'm Abigail Claflin.", "Hello Abi."),
}
FRAMES = 10


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Four exchanges: a spoken question (2.5 s of a fixture) -> short text + SNAC frames."""
    folder = tmp_path_factory.mktemp("dataset")
    encoder = CTranslate2WhisperFeatures()
    _, tokenizer = load_lm("tiny")
    rng = np.random.default_rng(0)
    rows, audio = [], {}
    for index, (name, (question, answer)) in enumerate(QUESTIONS.items()):
        speech = load_audio(FIXTURES / name)[:40000]
        audio[name] = speech
        features = encoder(speech).numpy().astype(np.float16)
        buffer = io.BytesIO()
        np.save(buffer, features)
        codes = rng.integers(0, 4096, (FRAMES, 7))
        rows.append({
            "id": f"q{index}#0", "conversation_id": f"q{index}", "exchange": 0,
            "source": "test", "subset": "xl", "history": [], "question": question,
            "question_text": question, "question_audio": {"bytes": b"", "path": ""},
            "question_seconds": 2.0, "question_speaker": "fixture", "question_gender": "",
            "question_style": "{}", "question_transcript": question, "question_error_rate": 0.0,
            "question_whisper_npy": buffer.getvalue(), "question_snac": [],
            "question_ids": tokenizer.encode(question, add_special_tokens=False).ids,
            "answer": answer, "answer_text": answer, "answer_audio": {"bytes": b"", "path": ""},
            "answer_seconds": 0.0, "answer_speaker": "", "answer_gender": "",
            "answer_transcript": answer, "answer_error_rate": 0.0,
            "answer_snac": codes.tolist(),
            "answer_ids": tokenizer.encode(answer, add_special_tokens=False).ids,
        })
    (folder / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=exchange_schema()),
                   folder / "data" / "xl.parquet")
    (folder / "README.md").write_text(f"---\n{_yaml_configs({'xl': ['data/xl.parquet']})}\n---\n")
    return folder, rows, audio


def stage(dataset, out, **settings) -> TrainConfig:
    config = TrainConfig(name="test", out_dir=str(out), data=str(dataset[0]), backbone="tiny",
                         held_out=0.0, precision="no", threads=2, batch_size=4,
                         eval_every=10_000, save_every=10_000, **settings)
    check(config, "test")
    return config


@pytest.fixture(scope="module")
def learnt(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("learn")
    config = stage(dataset, out, tasks=["asr", "a1t2", "a1a2"], train=["all"], steps=300,
                   lr=1e-3, warmup=10)
    return config, Trainer(config).run()


def test_every_stream_of_a_tiny_talker_learns(learnt, dataset):
    config, report = learnt
    talker = load_checkpoint(report.final).model
    exchanges = load_exchanges(dataset[0], "xl", dataset[0] / "hf-cache")
    examples = task_examples(exchanges, config.tasks, talker.config.vocab, 300)
    losses = held_out_losses(talker, examples, batch_size=4)  # over the training examples
    assert set(losses) == {"text", *(f"audio{i}" for i in range(7))}
    first = {k: v for row in report.history[:3] for k, v in row.items()}
    for stream, loss in losses.items():
        assert loss < 0.1, (stream, loss)
        assert loss < first[stream] / 50, (stream, first[stream], loss)


def test_the_trained_talker_says_what_it_learnt_through_the_real_decoder(learnt, dataset):
    config, report = learnt
    _, rows, audio = dataset
    inference = OmniInference.load(OmniSettings(paths=OmniPaths(checkpoint=report.final),
                                                precision="fp32"))
    assert type(inference.whisper).__name__ == "CTranslate2WhisperFeatures"
    for row, speech in zip(rows, audio.values(), strict=True):
        done = list(inference.answer(speech))[-1]
        assert done.text.strip() == row["answer"]
        np.testing.assert_array_equal(done.frames, np.array(row["answer_snac"]))
        assert inference.transcribe(speech).strip() == row["question"]
    assert os.path.getsize(os.path.join(config.out_dir, "loss.png")) > 10_000


def test_frozen_parts_are_bit_identical_after_a_stage(dataset, tmp_path):
    lm, tokenizer = load_lm("tiny")
    talker = talker_from_lm(lm, 384)
    initial = save_talker(talker, tmp_path / "initial", tokenizer)
    config = stage(dataset, tmp_path / "stage1", init=str(initial), tasks=["asr", "tts"],
                   train=["adapter", "new_rows"], steps=6, lr=1e-2)
    report = Trainer(config).run()
    before = load_file(initial / "model.safetensors")
    after = load_file(os.path.join(report.final, "model.safetensors"))
    split = talker.config.vocab.text
    for name, tensor in before.items():
        if name == "backbone.embed_tokens.weight":
            assert torch.equal(after[name][:split], tensor[:split])  # text rows: frozen
            assert not torch.equal(after[name][split:], tensor[split:])  # new rows: learnt
        elif name.startswith("backbone."):
            assert torch.equal(after[name], tensor), name
        else:
            assert not torch.equal(after[name], tensor), name  # the adapter learnt


def stage_file(dataset, out, **settings) -> Path:
    """A stage as the TOML file `omnitalk train` reads, for runs in their own processes."""
    fields = {"name": "run", "out_dir": str(out), "data": str(dataset[0]), "backbone": "tiny",
              "held_out": 0.0, "precision": "no", "tasks": ["asr", "a1a2"], "train": ["all"],
              "steps": 12, "batch_size": 2, "grad_accum": 2, "lr": 3e-3, "warmup": 3,
              "eval_every": 100, "save_every": 100} | settings
    path = out.parent / f"{out.name}.toml"
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in fields.items()))
    return path


def test_a_killed_run_resumes_to_the_same_weights(dataset, tmp_path):
    def config_file(out):
        return stage_file(dataset, out, save_every=2)

    command = [sys.executable, "-m", "omnitalk.cli", "train"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    subprocess.run([*command, str(config_file(whole))], check=True, capture_output=True,
                   timeout=900)
    process = subprocess.Popen([*command, str(config_file(cut))], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    state = cut / "checkpoint" / "trainer_state.json"
    deadline = time.monotonic() + 600
    while not (state.is_file() and json.loads(state.read_text())["step"] >= 6):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (cut / "final").exists()
    resumed = subprocess.run([*command, str(config_file(cut))], capture_output=True, text=True,
                             timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    ours = load_file(cut / "final" / "model.safetensors")
    theirs = load_file(whole / "final" / "model.safetensors")
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name
    history = [json.loads((d / "report.json").read_text())["history"] for d in (cut, whole)]
    assert [r["loss"] for r in history[0]] == [r["loss"] for r in history[1]]


def test_a_trained_checkpoint_answers_in_talk(learnt, tmp_path):
    _, report = learnt
    config = tmp_path / "talk.toml"
    config.write_text("[omni.decoding]\nmax_steps = 40\n")
    result = subprocess.run(
        [sys.executable, "-m", "omnitalk.cli", "talk", str(FIXTURES / "jfk.flac"), "--fast",
         "--json", "--out-dir", str(tmp_path), "--checkpoint", report.final, "--config",
         str(config)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)[0]
    reply, rate = sf.read(summary["reply_wav"])
    assert rate == 24000 and reply.size > 0  # it heard the turn and spoke, in its random voice
    assert load_checkpoint(report.final).model.config.audio_encoder == "ctranslate2:"


def test_logged_losses_average_the_micro_batches_that_had_each_stream():
    seen = [{"text": [1.0, 3.0], "audio0": [4.0]}, {"text": [5.0]}]
    assert mean_over_processes(seen) == {"audio0": 4.0, "text": 3.0}


def test_two_processes_train_like_one_that_accumulates_their_micro_batches(dataset, tmp_path):
    """DDP over gloo on the CPU: two processes of one micro-batch each per step reach the
    weights and losses of one process accumulating the same two micro-batches."""
    with socket.socket() as probe:  # a free port for the processes to meet on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, "-m", "omnitalk.cli", "train",
                    str(stage_file(dataset, one, steps=6, grad_accum=2, threads=2))],
                   check=True, capture_output=True, timeout=900)
    launched = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", str(port), "-m", "omnitalk.cli", "train",
         str(stage_file(dataset, two, steps=6, grad_accum=1, threads=1))],
        capture_output=True, text=True, timeout=900)
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert launched.stderr.count("training examples,") == 1  # only the first process reports
    ours = load_file(two / "final" / "model.safetensors")
    theirs = load_file(one / "final" / "model.safetensors")
    assert ours.keys() == theirs.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-4, atol=1e-5)
    reports = [json.loads((d / "report.json").read_text()) for d in (two, one)]
    assert [r["processes"] for r in reports] == [2, 1]
    losses = [[row["loss"] for row in r["history"]] for r in reports]
    assert len(losses[0]) == 6 and losses[0][-1] < losses[0][0]  # it trained
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
