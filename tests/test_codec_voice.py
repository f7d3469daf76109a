"""The voice codec: SNAC-layout frames from z and back, trained, saved, refused on another voice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omnitalk.codec.piper_decoder import VoiceFiles, cut_decoder, weights_hash
from omnitalk.codec.voice_codec import VoiceCodec, VoiceCodecConfig, VoiceCodecError
from omnitalk.codec.voice_training import LATENTS, CodecTrainConfig, corpus, train_codec

TINY = VoiceCodecConfig(latent_dim=8, width=16, codebook_size=64)


def smooth_latents(count: int, seed: int = 0) -> list[np.ndarray]:
    """z-like sequences: 4 slow components mixed into 192 channels (z is low-rank too)."""
    mixing = np.random.default_rng(42).standard_normal((192, 4))  # one "voice" for all
    rng = np.random.default_rng(seed)
    zs = []
    for _ in range(count):
        frames = int(rng.integers(40, 120))
        t = np.arange(frames)[None] / 12.0
        components = np.sin(t * rng.uniform(0.5, 2.0, (4, 1)) + rng.uniform(0, 6, (4, 1)))
        zs.append((mixing @ components).astype(np.float32))
    return zs


def test_frames_have_snacs_layout_and_decode_to_whole_frames_of_z():
    codec = VoiceCodec(TINY).eval()
    z = np.random.default_rng(0).standard_normal((1, 192, 21)).astype(np.float32)
    frames = codec.encode(z)
    assert frames.shape == (3, 7)  # 21 z-frames padded to 3 frames of 8
    assert frames.min() >= 0 and frames.max() < 64
    decoded = codec.decode(frames)
    assert decoded.shape == (1, 192, 24) and decoded.dtype == np.float32
    again, quantized = codec(torch.from_numpy(np.concatenate([z, z[..., -1:].repeat(3, -1)], -1)))
    np.testing.assert_allclose(decoded, again.detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="frames must have shape"):
        codec.decode(np.zeros((2, 6), np.int64))


def test_a_saved_codec_loads_the_same_and_is_refused_with_the_reason(tmp_path):
    codec = VoiceCodec(VoiceCodecConfig(**{**TINY.__dict__, "voice": "joe", "voice_hash": "ab12"}))
    codec.save(tmp_path)
    frames = np.random.default_rng(1).integers(0, 64, (4, 7))
    loaded = VoiceCodec.load(tmp_path, "ab12")
    # Stored in fp16: every load decodes the same, and close to the codec that was saved.
    np.testing.assert_array_equal(loaded.decode(frames), VoiceCodec.load(tmp_path).decode(frames))
    np.testing.assert_allclose(loaded.decode(frames), codec.eval().decode(frames), atol=1e-3)
    with pytest.raises(VoiceCodecError, match=r"trained on the voice joe \(decoder ab12\), not the "
                                              r"installed one \(ffff\)"):
        VoiceCodec.load(tmp_path, "ffff")
    config = (tmp_path / "codec.json").read_text().replace('"codebook_size": 64',
                                                           '"codebook_size": 128')
    (tmp_path / "codec.json").write_text(config)
    with pytest.raises(VoiceCodecError, match="does not fit codec.json"):
        VoiceCodec.load(tmp_path)
    (tmp_path / "codec.json").write_text('{"layers": 3}')
    with pytest.raises(VoiceCodecError, match="not a voice codec config"):
        VoiceCodec.load(tmp_path)
    with pytest.raises(VoiceCodecError, match="missing codec.json"):
        VoiceCodec.load(tmp_path / "elsewhere")
    with pytest.raises(VoiceCodecError, match="quantizer must be one of simvq, vq"):
        VoiceCodec(VoiceCodecConfig(quantizer="kmeans"))


def test_the_held_out_answers_are_kept_out_of_training():
    training, held_out = corpus()
    assert len(held_out) >= 15 and len(training) > 10 * len(held_out)
    assert not set(training) & set(held_out)


@pytest.mark.real_models
def test_training_learns_to_code_z_and_records_the_installed_voice(tmp_path):
    zs = smooth_latents(60)
    np.savez(tmp_path / LATENTS, **{str(i): z for i, z in enumerate(zs)})  # no speaking
    messages = []
    codec, report = train_codec(CodecTrainConfig(out_dir=str(tmp_path), steps=200),
                                messages.append)
    assert report["sentences"] == 60 and any("step 200/200" in m for m in messages)
    installed = weights_hash(cut_decoder(VoiceFiles.find()))
    loaded = VoiceCodec.load(tmp_path, installed)
    assert loaded.config.voice == "en_US-joe-medium"
    held_out = smooth_latents(5, seed=9)
    errors, spread = [], []
    for z in held_out:
        frames = loaded.encode(z[None])
        back = loaded.decode(frames)[0, :, :z.shape[1]]
        errors.append(np.mean((back - z) ** 2))
        spread.append(np.var(z))
    assert np.mean(errors) < 0.1 * np.mean(spread)  # most of the signal comes back


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "codec", "--episodes", "3"], "--episodes is not a codec setting"),
    (["train", "codec", "--steps", "0"], "--steps must be at least 1"),
    (["train", "stage1-align", "--quantizer", "vq"], "--quantizer is for `train codec`"),
    (["eval", "codec", "--codec", "nowhere", "--limit", "-1"], "--limit must be at least 0"),
])
def test_codec_commands_refuse_bad_flags_before_anything_loads(capsys, argv, message):
    from omnitalk.cli import main

    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.real_models
def test_eval_codec_names_a_missing_codec(capsys, tmp_path):
    from omnitalk.cli import main

    assert main(["eval", "codec", "--codec", str(tmp_path)]) == 2
    assert "missing codec.json (train one with `omnitalk train codec`)" in capsys.readouterr().err


@pytest.mark.real_models
def test_the_packaged_codec_fits_the_packaged_voice_and_codes_its_speech():
    from omnitalk.codec.piper_decoder import PiperDecoder, PiperLatents

    installed = weights_hash(cut_decoder(VoiceFiles.find()))
    codec = VoiceCodec.load(voice_hash_now=installed)
    assert codec.config.codebook_size == 4096 and codec.config.quantizer == "simvq"
    [spoken] = PiperLatents().sentences("The river runs past the old mill every morning.")
    frames = codec.encode(spoken.z)
    assert frames.shape == (-(-spoken.z.shape[-1] // 8), 7) and frames.max() < 4096
    z = codec.decode(frames)[..., :spoken.z.shape[-1]]
    error = np.mean((z - spoken.z) ** 2) / np.var(spoken.z)
    assert error < 0.2  # standardised per channel in training, about 0.03 there
    audio = PiperDecoder()(z)
    assert audio.size == spoken.audio.size and np.abs(audio).max() > 0.05


@pytest.mark.real_models
def test_a_talker_speaks_through_the_voice_codec_chunk_by_chunk(tmp_path):
    from omni_tiny import write_omni_folder
    from omnitalk.omni.inference import AudioChunk, OmniInference
    from omnitalk.omni.settings import DecodingOptions, OmniPaths, OmniSettings

    settings = OmniSettings(paths=OmniPaths(checkpoint=str(write_omni_folder(tmp_path))),
                            codec="voice", precision="fp32",
                            decoding=DecodingOptions(max_steps=30))
    inference = OmniInference.load(settings)
    events = list(inference.answer_text("hello"))
    done = events[-1]
    chunks = [e for e in events if isinstance(e, AudioChunk)]
    assert len(chunks) >= 2 and {c.sample_rate for c in chunks} == {22050}
    streamed = np.concatenate([c.audio for c in chunks])
    assert streamed.size == len(done.frames) * 2048  # every frame spoken, nothing more
    speech = inference.speech
    whole = speech.voice_decoder(speech.codec.decode(done.frames))
    snr = 10 * np.log10(np.sum(whole ** 2) / np.sum((streamed - whole) ** 2))
    assert snr > 25  # chunk edges decoded with context and lookahead
