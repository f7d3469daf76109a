"""Training targets and the decoder agree: a tiny talker trained on one spoken question answers
it, through the real loader and the real streaming path, with the trained text and SNAC codes.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from conftest import FIXTURES
from omni_tiny import lit_config, write_lit_checkpoint, write_openai_whisper, write_snac
from omnitalk.audio.io import load_audio
from omnitalk.codec.snac import decode_frames, load_snac
from omnitalk.codec.snac_frames import SNAC_CODES
from omnitalk.omni import layout as lo
from omnitalk.omni.checkpoint import export_safetensors, load_checkpoint
from omnitalk.omni.inference import AnswerDone, AudioChunk, OmniInference
from omnitalk.omni.settings import OmniPaths, OmniSettings
from omnitalk.omni.targets import answer_rows, stream_losses, training_example
from omnitalk.omni.whisper import WhisperFeatures

ANSWER = "the capital of france is paris"
TRANSCRIPT = "what is the capital of france"
FRAMES = 12


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train (speech -> text + codes) as the batch-parallel pair, and the same speech's
    transcript as the ASR task; export; return the folder."""
    torch.manual_seed(0)
    work = tmp_path_factory.mktemp("train")
    write_lit_checkpoint(work / "init", lit_config())
    write_openai_whisper(work / "small.pt")
    write_snac(work / "snac")
    audio = load_audio(FIXTURES / "LJ002-0020.wav")[:8000]  # 0.5 s: 26 Whisper frames
    features = WhisperFeatures.load(work / "small.pt")(audio)[None]
    checkpoint = load_checkpoint(work / "init")
    text = checkpoint.tokenizer.encode(ANSWER).ids
    codes = np.random.default_rng(0).integers(0, SNAC_CODES, (FRAMES, 7))
    speech, text_only = lo.batch_speech_prompt(features.shape[1])
    asr = lo.speech_prompt(lo.Task.ASR, features.shape[1])
    spoken = answer_rows(text, codes)
    steps = spoken.shape[1]
    transcript = checkpoint.tokenizer.encode(TRANSCRIPT).ids
    examples = [training_example(speech, spoken),
                training_example(text_only, answer_rows(text, steps=steps)),
                training_example(asr, answer_rows(transcript, steps=steps))]
    inputs = torch.from_numpy(np.stack([e.inputs for e in examples]))
    targets = torch.from_numpy(np.stack([e.targets for e in examples]))
    model = checkpoint.model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    for _ in range(300):
        losses = stream_losses(model, inputs, targets, audio_features=features.expand(3, -1, -1),
                               audio_positions=speech.audio_positions)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    final = {name: float(loss.detach()) for name, loss in losses.items()}
    folder = export_safetensors(checkpoint, work / "trained")
    shutil.copy(work / "small.pt", folder / "small.pt")
    shutil.copytree(work / "snac", folder / "snac")
    return folder, audio, codes, final


def load(folder, batch_parallel: bool = True) -> OmniInference:
    return OmniInference.load(OmniSettings(paths=OmniPaths(checkpoint=str(folder)),
                                           precision="fp32", batch_parallel=batch_parallel))


def test_every_stream_learns_the_example(trained):
    _, _, _, losses = trained
    assert set(losses) == {"text", *(f"audio{layer}" for layer in range(7))}
    assert max(losses.values()) < 0.05, losses


@pytest.mark.parametrize("batch_parallel", [True, False])
def test_the_trained_answer_comes_back_through_the_streaming_path(trained, batch_parallel):
    folder, audio, codes, _ = trained
    events = list(load(folder, batch_parallel).answer(audio))
    done = events[-1]
    assert isinstance(done, AnswerDone)
    assert done.text.strip() == ANSWER
    np.testing.assert_array_equal(done.frames, codes)
    assert done.dropped_frames == 0
    streamed = np.concatenate([e.audio for e in events if isinstance(e, AudioChunk)])
    assert streamed.size == FRAMES * 2048  # every frame, the tail included
    whole = decode_frames(load_snac(folder / "snac"), codes)
    # Chunked decoding matches the whole-utterance decode but near chunk edges (see codec tests).
    assert np.corrcoef(streamed, whole)[0, 1] > 0.99


def test_the_text_only_task_gives_the_same_text(trained):
    folder, audio, _, _ = trained
    events = list(load(folder).answer(audio, speak=False))
    assert not any(isinstance(e, AudioChunk) for e in events)
    assert events[-1].text.strip() == ANSWER
    assert "".join(e.text for e in events[:-1]) == events[-1].text


def test_the_asr_task_gives_the_trained_transcript(trained):
    folder, audio, _, _ = trained
    assert load(folder).transcribe(audio).strip() == TRANSCRIPT
