"""SNAC frames and streaming decoding: the 7-code frame order, no chunk-edge defects, the tail
flushed, special tokens kept out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omni_tiny import write_snac
from omnitalk.audio.pcm import float_to_pcm16, pcm16_to_float
from omnitalk.codec.snac import (
    CodecError,
    SnacSpeech,
    StreamingSnacDecoder,
    decode_frames,
    load_snac,
)
from omnitalk.codec.snac_frames import SAMPLES_PER_FRAME, codes_to_frames, frames_to_codes
from omnitalk.omni import inference as omni_inference
from omnitalk.omni import layout as lo
from omnitalk.omni.decoding import Step
from omnitalk.omni.settings import OmniSettings

# SNAC 24 kHz's decoder reaches about 2.2 frames either side of a code (measured: a changed
# frame moves samples 2.21 frames before and 2.19 after it).
REACH = int(2.25 * SAMPLES_PER_FRAME)


@pytest.fixture(scope="module")
def snac(tmp_path_factory):
    folder = tmp_path_factory.mktemp("snac")
    write_snac(folder)
    return load_snac(folder)


def stream(decoder: StreamingSnacDecoder, frames: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Push every frame, flush; return the audio and where each chunk ended (in samples)."""
    chunks, edges = [], []
    for frame in frames:
        chunk = decoder.push(frame)
        if chunk is not None:
            chunks.append(chunk)
            edges.append(sum(c.size for c in chunks))
    tail = decoder.flush()
    if tail is not None:
        chunks.append(tail)
    return np.concatenate(chunks), edges


def frames_of(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4096, (count, 7))


def test_a_frame_regroups_into_snac_codes_depth_first_and_back():
    frame = np.array([[10, 20, 30, 31, 21, 32, 33]])
    c0, c1, c2 = frames_to_codes(frame)
    assert c0.tolist() == [[10]] and c1.tolist() == [[20, 21]]
    assert c2.tolist() == [[30, 31, 32, 33]]
    frames = np.random.default_rng(0).integers(0, 4096, size=(9, 7))
    c0, c1, c2 = frames_to_codes(frames)
    assert (c0.shape, c1.shape, c2.shape) == ((1, 9), (1, 18), (1, 36))
    np.testing.assert_array_equal(codes_to_frames(c0, c1, c2), frames)


def test_special_tokens_never_reach_snac():
    frames = np.zeros((3, 7), np.int64)
    frames[2, 6] = lo.EOA
    with pytest.raises(ValueError, match="frame 2 holds 4096 in layer 6"):
        frames_to_codes(frames)


def test_streaming_matches_a_whole_decode_away_from_the_chunk_edges(snac):
    frames = frames_of(23)  # 5 chunks of 4 and a 3-frame tail
    whole = decode_frames(snac, frames)
    decoder = StreamingSnacDecoder(snac, chunk_frames=4, context_frames=3, lookahead_frames=1)
    audio, edges = stream(decoder, frames)
    assert audio.size == whole.size == 23 * SAMPLES_PER_FRAME  # the tail is not dropped
    near_edge = np.zeros(audio.size, bool)
    lookahead = SAMPLES_PER_FRAME
    for edge in edges:  # only samples whose right context was cut can differ
        near_edge[max(0, edge + lookahead - REACH):edge] = True
    np.testing.assert_allclose(audio[~near_edge], whole[~near_edge], atol=1e-5)
    # Near the edges the error is small, and far smaller than the reference's chunking.
    error = np.abs(audio - whole)[near_edge].max()
    reference, _ = stream(StreamingSnacDecoder(snac, 4, context_frames=0, lookahead_frames=0),
                          frames)
    reference_error = np.abs(reference - whole).max()
    assert error < 0.25 * reference_error


def test_full_context_and_lookahead_reproduce_the_whole_decode(snac):
    frames = frames_of(14, seed=1)
    audio, _ = stream(StreamingSnacDecoder(snac, 4, context_frames=3, lookahead_frames=3),
                      frames)
    np.testing.assert_allclose(audio, decode_frames(snac, frames), atol=1e-5)


def test_reset_starts_a_new_answer_and_short_answers_flush(snac):
    decoder = StreamingSnacDecoder(snac)
    assert decoder.flush() is None
    for frame in frames_of(2):
        assert decoder.push(frame) is None
    decoder.reset()
    decoder.push(frames_of(1)[0])
    tail = decoder.flush()
    assert tail.size == SAMPLES_PER_FRAME
    assert decoder.flush() is None


def test_special_tokens_never_reach_snac_and_are_counted(snac, monkeypatch):
    codes = frames_of(9, seed=2)
    codes[4, 3] = 4097  # a pad_a inside a frame
    steps = []
    for index in range(len(codes) + lo.FRAME_DELAY):  # lay the frames out with the delay
        audio = np.full(7, lo.PAD_A)
        for layer in range(7):
            frame = lo.frame_at_step(layer, index)
            if frame is not None and frame < len(codes):
                audio[layer] = codes[frame, layer]
        steps.append(Step(index, None, audio))
    inference = omni_inference.OmniInference(None, None, None, SnacSpeech(snac), OmniSettings())
    monkeypatch.setattr(inference.batch, "decode", lambda *args, **kwargs: iter(steps))
    events = list(inference._run([], omni_inference.SPEECH, {}, None, 0.0, {}))
    done = events[-1]
    assert done.dropped_frames == 1
    np.testing.assert_array_equal(done.frames, np.delete(codes, 4, axis=0))
    audio = np.concatenate([e.audio for e in events[:-1]])
    assert audio.size == 8 * SAMPLES_PER_FRAME


def test_pcm16_clips_instead_of_wrapping():
    pcm = float_to_pcm16(np.array([1.0, 1.5, -1.0, -3.0], np.float32))
    assert list(np.frombuffer(pcm, "<i2")) == [32767, 32767, -32767, -32767]
    assert pcm16_to_float(pcm)[0] > 0.99


def test_bad_codec_folders_are_named(tmp_path):
    with pytest.raises(CodecError, match="missing config.json"):
        load_snac(tmp_path)
    write_snac(tmp_path)
    state = torch.load(tmp_path / "pytorch_model.bin")
    state.pop(next(iter(state)))
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(CodecError, match="does not fit the config"):
        load_snac(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CodecError, match="not a SNAC config"):
        load_snac(tmp_path)
