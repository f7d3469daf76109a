"""Piper's decoder cut out of the packaged voice: it turns the voice's own z into its audio."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from omnitalk.codec.piper_decoder import (
    HOP,
    LATENT,
    LATENT_CHANNELS,
    PiperDecoder,
    PiperDecoderError,
    PiperLatents,
)


@pytest.mark.real_models
def test_the_cut_decoder_reproduces_the_whole_voice_sample_for_sample():
    latents, decoder = PiperLatents(), PiperDecoder()
    assert decoder.sample_rate == latents.sample_rate == 22050
    spoken = list(latents.sentences("Hello there. The capital of France is Paris."))
    assert len(spoken) == 2
    for sentence in spoken:
        assert sentence.z.shape[:2] == (1, LATENT_CHANNELS)
        assert sentence.audio.size == sentence.z.shape[2] * HOP
        assert np.array_equal(decoder(sentence.z), sentence.audio)
        assert np.abs(sentence.audio).max() > 0.05  # speech, not silence
    # Another sentence's z gives other audio: the decoder reads z, nothing else.
    other = decoder(spoken[0].z[:, :, ::-1].copy())
    assert not np.array_equal(other, spoken[0].audio)
    with pytest.raises(PiperDecoderError, match=r"z must have shape \[1, 192, frames\]"):
        decoder(np.zeros((1, 80, 10), np.float32))


def test_a_voice_without_the_latent_is_refused_naming_the_tensor(tmp_path):
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["input"], ["output"])], "not-vits",
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [1])])
    voice = tmp_path / "voice.onnx"
    onnx.save(onnx.helper.make_model(graph), str(voice))
    (tmp_path / "voice.onnx.json").write_text('{"audio": {"sample_rate": 22050}}')
    with pytest.raises(PiperDecoderError, match=f"no tensor '{LATENT}'"):
        PiperDecoder(voice)
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    (tmp_path / "broken.onnx.json").write_text("{}")
    with pytest.raises(PiperDecoderError, match="not a readable ONNX model"):
        PiperDecoder(tmp_path / "broken.onnx")
    onnx.save(onnx.helper.make_model(graph), str(tmp_path / "odd.onnx"))
    (tmp_path / "odd.onnx.json").write_text("{}")
    with pytest.raises(PiperDecoderError, match="no tensor"):  # the graph is checked first
        PiperDecoder(tmp_path / "odd.onnx")
    with pytest.raises(PiperDecoderError, match="Piper voice file missing"):
        PiperDecoder(tmp_path / "absent.onnx")
