"""The duplex state head: its file refuses the wrong backbone, a tiny run learns and resumes
exactly after a kill, and the packaged head reads the packaged SmolLM2 sensibly."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from omnitalk.duplex.state_head import (
    Backbone,
    HeadShape,
    State,
    StateClassifier,
    StateHead,
    TextReader,
    load_head,
    save_head,
)
from omnitalk.engines.base import EngineError
from omnitalk.train.state_head import StateHeadConfig, chance, label, train_state_head

SMOLLM2 = Backbone("", 576, 49152, 2)


def test_a_head_file_round_trips_and_refuses_another_backbone(tmp_path):
    torch.manual_seed(0)
    head = StateHead(HeadShape(SMOLLM2.hidden_size, 8))
    path = tmp_path / "head.safetensors"
    save_head(head, SMOLLM2, path, {"command": "omnitalk train state-head"})
    loaded = load_head(path, SMOLLM2)
    for name, tensor in head.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    other = Backbone("qwen", 896, 151936, 151645)
    with pytest.raises(EngineError) as caught:
        load_head(path, other)
    message = str(caught.value)
    assert "hidden_size 576 (this backbone: 896)" in message
    assert "vocab_size 49152 (this backbone: 151936)" in message
    assert "end_token_id 2 (this backbone: 151645)" in message


def test_a_damaged_or_foreign_file_is_refused_with_the_reason(tmp_path):
    with pytest.raises(EngineError, match="no state head at"):
        load_head(tmp_path / "absent.safetensors", SMOLLM2)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(EngineError, match="not a state head file"):
        load_head(junk, SMOLLM2)
    from safetensors.torch import save_file

    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(2)}, str(bare))
    with pytest.raises(EngineError, match="does not say which backbone"):
        load_head(bare, SMOLLM2)


def test_labels_follow_the_timeline():
    # Inside an utterance: listen, except that the start of a backchannel over a reply is
    # no reason to stop it; at its end, the episode's own decision; noise is always ignored.
    assert label("finished", 1.0, 2.0, State.RESPOND, False, "What is the") is State.LISTEN
    assert label("finished", 2.1, 2.0, State.RESPOND, False, "What is it?") is State.RESPOND
    assert label("interruption", 1.0, 2.0, State.RESPOND, True, "Wait,") is State.LISTEN
    assert label("backchannel", 1.0, 2.0, State.IGNORE, True, "Oh") is State.IGNORE
    assert label("stop", 2.1, 2.0, State.STOP, True, "Stop talking.") is State.STOP
    assert label("cough", 2.1, 2.0, State.IGNORE, True, "Thank you.") is State.IGNORE
    # A command counts from its first word; before it ("alright, ...") it is not one yet.
    assert label("stop", 1.0, 2.0, State.STOP, True, "Stop.") is State.STOP
    assert label("stop", 1.0, 2.0, State.STOP, True, "Alright,") is State.IGNORE
    assert label("stop_idle", 1.0, 2.0, State.IGNORE, False, "Stop.") is State.IGNORE


def test_a_head_read_in_one_precision_is_refused_by_a_reader_in_another(tmp_path):
    path = tmp_path / "head.safetensors"
    save_head(StateHead(HeadShape(SMOLLM2.hidden_size, 8)), SMOLLM2, path)  # fp32
    with pytest.raises(EngineError, match=r"precision fp32 \(this backbone: int8\)"):
        load_head(path, Backbone("", 576, 49152, 2, "int8"))
    with pytest.raises(EngineError, match="fp32 or int8, not 'int4'"):
        TextReader(None, None, "", "int4")


@pytest.fixture(scope="module")
def readers():
    """The packaged backbone, loaded once, read in each precision (int8 quantises a copy)."""
    fp32 = TextReader.load("", "fp32")
    return {"fp32": fp32, "int8": TextReader(fp32.lm, fp32.tokenizer, "", "int8")}


@pytest.fixture
def shared_reader(readers, monkeypatch):
    """Every run reads with the one loaded backbone (loading takes seconds); the packaged
    head's precision."""
    monkeypatch.setattr(TextReader, "load", classmethod(
        lambda cls, backbone="", precision="fp32": readers[precision]))
    return readers[StateHeadConfig().precision]


@pytest.mark.real_models
def test_the_int8_reader_reads_a_transcript_alone_as_among_others(readers):
    from torch import nn

    int8, fp32 = readers["int8"], readers["fp32"]
    text = "What is the capital of France"
    alone = int8.read([text])
    int8._cache.clear()
    among = int8.read(["Stop.", text, "so um I was wondering whether you could tell me about"])
    assert torch.equal(among[0][1], alone[0][0]) and float(among[1][1]) == float(alone[1][0])
    # Quantised, yet near fp32's reading: the outlier-carrying MLP output projections are not.
    reference = fp32.read([text])[0][0]
    assert torch.nn.functional.cosine_similarity(alone[0][0], reference, 0) > 0.9
    kinds = {name.rsplit(".", 1)[-1]: type(m) for name, m in int8.lm.named_modules()}
    assert kinds["down_proj"] is nn.Linear and kinds["q_proj"] is not nn.Linear


@pytest.mark.real_models
def test_a_classifier_reads_in_the_precision_its_head_was_trained_in(readers, tmp_path,
                                                                       monkeypatch):
    asked = []

    def load(cls, backbone="", precision="fp32"):
        asked.append(precision)
        return readers[precision]

    monkeypatch.setattr(TextReader, "load", classmethod(load))
    path = tmp_path / "head.safetensors"
    save_head(StateHead(HeadShape(576, 8)), readers["int8"].backbone, path)
    classifier = StateClassifier.load(path)
    assert asked == ["int8"] and classifier.reader is readers["int8"]


def tiny_config(out, **overrides) -> StateHeadConfig:
    # Text examples only: no audio, so the run takes seconds; the spoken ones share the path.
    settings = dict(out_dir=str(out), episodes=0, steps=40, batch_size=32, lr=3e-3, warmup=4,
                    eval_every=20, save_every=10, width=16)
    return StateHeadConfig(**(settings | overrides))


@pytest.fixture(scope="module")
def whole_run(readers, tmp_path_factory):
    """One tiny run for the tests below: reading every example with the backbone (its
    features) is most of a run's time."""
    out = tmp_path_factory.mktemp("state-head")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TextReader, "load", classmethod(
            lambda cls, backbone="", precision="fp32": readers[precision]))
        return out, train_state_head(tiny_config(out))


@pytest.mark.real_models
def test_a_tiny_run_learns_above_chance(whole_run, shared_reader):
    out, report = whole_run
    rows = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in report.history]
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:5]) / 5
    assert report.evaluations[-1]["accuracy"] > chance(rows) + 0.1
    assert (out / "loss.png").stat().st_size > 0
    assert load_head(report.final, shared_reader.backbone).shape.width == 16


@pytest.mark.real_models
def test_a_killed_run_resumes_to_the_same_weights(whole_run, shared_reader, tmp_path):
    out, whole = whole_run

    class Killed(Exception):
        pass

    def kill_at_25(step, steps, row, evaluation):
        if step == 25:  # after the checkpoint of step 20, before that of step 30
            raise Killed

    killed = tmp_path / "killed"
    killed.mkdir()
    for name in ("examples.jsonl", f"features-{StateHeadConfig().precision}.safetensors"):
        shutil.copy(out / name, killed / name)
    with pytest.raises(Killed):
        train_state_head(tiny_config(killed), on_step=kill_at_25)
    resumed = train_state_head(tiny_config(killed))
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in whole.history]
    first = load_head(whole.final, shared_reader.backbone).state_dict()
    second = load_head(resumed.final, shared_reader.backbone).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.real_models
def test_the_packaged_head_reads_turns_as_a_listener_would(shared_reader):
    from omnitalk.duplex.state_head import PACKAGED_HEAD

    classifier = StateClassifier(shared_reader, load_head(PACKAGED_HEAD, shared_reader.backbone))
    decide = classifier.decide
    assert decide("What's the tallest mountain in Africa?", False).state is State.RESPOND
    assert decide("What's the tallest mountain in", False).state is State.LISTEN
    assert decide("So I was wondering if you could tell me about the", False).state \
        is State.LISTEN
    assert decide("Mm-hmm.", True).state is State.IGNORE
    assert decide("Stop.", True).state is State.STOP
    assert decide("Wait, actually, how far away is the moon?", True).state is State.RESPOND
    assert decide("", True).state is State.IGNORE  # nothing understood: a sound


@pytest.mark.real_models
def test_the_packaged_backbone_is_dequantised_once_and_loads_the_same(tmp_path, monkeypatch):
    from omnitalk.train.surgery import load_lm, packaged_lm_cache

    monkeypatch.setenv("OMNITALK_CACHE", str(tmp_path))
    first, first_tokenizer = load_lm("")  # from the GGUF, saved on the way
    assert (packaged_lm_cache() / "config.json").is_file()
    assert packaged_lm_cache().parent == tmp_path
    second, second_tokenizer = load_lm("")  # from the saved copy
    weights = second.state_dict()
    assert all(torch.equal(weights[name], tensor) for name, tensor in first.state_dict().items())
    text = "<|im_start|>user\nWhat is the capital of France"
    assert first_tokenizer.encode(text).ids == second_tokenizer.encode(text).ids
