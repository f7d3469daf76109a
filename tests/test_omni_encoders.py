"""Whisper and CLIP encoders loaded from their released file formats compute what the files say."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from conftest import FIXTURES
from omni_tiny import WHISPER_DIMS, write_openai_clip, write_openai_whisper
from omnitalk.audio.io import load_audio
from omnitalk.omni.layout import whisper_frames
from omnitalk.omni.vision import ClipFeatures, VisionLoadError
from omnitalk.omni.whisper import SpeechTooLong, WhisperFeatures, WhisperLoadError


def openai_encoder(state, mel: torch.Tensor) -> torch.Tensor:
    """OpenAI Whisper's AudioEncoder over the raw saved tensors, [1, 80, 3000] -> [1, 1500, d]."""
    s = {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
    x = F.gelu(F.conv1d(mel, s["conv1.weight"], s["conv1.bias"], padding=1))
    x = F.gelu(F.conv1d(x, s["conv2.weight"], s["conv2.bias"], stride=2, padding=1))
    x = x.transpose(1, 2) + s["positional_embedding"]
    heads, width = WHISPER_DIMS["n_audio_head"], WHISPER_DIMS["n_audio_state"]
    for i in range(WHISPER_DIMS["n_audio_layer"]):
        b = f"blocks.{i}."
        h = F.layer_norm(x, (width,), s[b + "attn_ln.weight"], s[b + "attn_ln.bias"])
        q = F.linear(h, s[b + "attn.query.weight"], s[b + "attn.query.bias"])
        k = F.linear(h, s[b + "attn.key.weight"])
        v = F.linear(h, s[b + "attn.value.weight"], s[b + "attn.value.bias"])
        q, k, v = (t.view(1, -1, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        weights = (q @ k.transpose(-1, -2) / math.sqrt(width // heads)).softmax(-1)
        attended = (weights @ v).transpose(1, 2).reshape(1, -1, width)
        x = x + F.linear(attended, s[b + "attn.out.weight"], s[b + "attn.out.bias"])
        h = F.layer_norm(x, (width,), s[b + "mlp_ln.weight"], s[b + "mlp_ln.bias"])
        h = F.linear(F.gelu(F.linear(h, s[b + "mlp.0.weight"], s[b + "mlp.0.bias"])),
                     s[b + "mlp.2.weight"], s[b + "mlp.2.bias"])
        x = x + h
    return F.layer_norm(x, (width,), s["ln_post.weight"], s["ln_post.bias"])


@pytest.fixture(scope="module")
def openai_whisper(tmp_path_factory):
    path = tmp_path_factory.mktemp("whisper") / "small.pt"
    return path, write_openai_whisper(path)


def test_openai_whisper_checkpoint_gives_the_encoder_output_trimmed_to_the_speech(openai_whisper):
    path, state = openai_whisper
    whisper = WhisperFeatures.load(path)
    audio = load_audio(FIXTURES / "jfk.flac")
    features = whisper(audio)
    assert features.shape == (whisper_frames(audio.size), WHISPER_DIMS["n_audio_state"])
    assert features.shape[0] == int(audio.size / 16000 * 1000 / 20) + 1  # the reference's leng
    mel = whisper.extractor(audio, sampling_rate=16000, return_tensors="pt")["input_features"]
    expected = openai_encoder(state, mel)[0, :features.shape[0]]
    torch.testing.assert_close(features, expected, atol=1e-4, rtol=1e-4)


def test_a_transformers_whisper_folder_loads_too(openai_whisper, tmp_path):
    from transformers import WhisperConfig, WhisperModel

    path, _ = openai_whisper
    ours = WhisperFeatures.load(path)
    d = WHISPER_DIMS
    config = WhisperConfig(num_mel_bins=80, d_model=d["n_audio_state"], encoder_layers=1,
                           decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                           encoder_ffn_dim=128, decoder_ffn_dim=128, max_target_positions=32)
    model = WhisperModel(config)
    model.encoder.load_state_dict(ours.encoder.state_dict())
    model.save_pretrained(tmp_path)
    audio = load_audio(FIXTURES / "LJ002-0020.wav")[:16000]
    torch.testing.assert_close(WhisperFeatures.load(tmp_path)(audio), ours(audio))


def test_speech_over_30_seconds_is_refused_not_cut(openai_whisper):
    whisper = WhisperFeatures.load(openai_whisper[0])
    assert whisper(np.zeros(30 * 16000, np.float32)).shape[0] == 1500
    with pytest.raises(SpeechTooLong, match=r"31\.0 s of speech .* at most 30 s"):
        whisper(np.zeros(31 * 16000, np.float32))
    with pytest.raises(ValueError, match="non-empty mono"):
        whisper(np.zeros((2, 100), np.float32))


def test_bad_whisper_files_are_named(tmp_path, openai_whisper):
    with pytest.raises(WhisperLoadError, match="not found"):
        WhisperFeatures.load(tmp_path / "small.pt")
    (tmp_path / "bad.pt").write_bytes(b"junk")
    with pytest.raises(WhisperLoadError, match="not an OpenAI Whisper checkpoint"):
        WhisperFeatures.load(tmp_path / "bad.pt")
    checkpoint = torch.load(openai_whisper[0])
    del checkpoint["model_state_dict"]["encoder.blocks.0.attn.key.weight"]
    torch.save(checkpoint, tmp_path / "cut.pt")
    with pytest.raises(WhisperLoadError, match="layers.0.self_attn.k_proj.weight"):
        WhisperFeatures.load(tmp_path / "cut.pt")
    with pytest.raises(WhisperLoadError, match="not a transformers Whisper folder"):
        WhisperFeatures.load(tmp_path)


def openai_clip_features(state, pixels: torch.Tensor, width: int = 64) -> torch.Tensor:
    """The Mini-Omni CLIP fork's encode_image: ln_post and proj on every token."""
    s = {k.removeprefix("visual."): v for k, v in state.items()}
    x = F.conv2d(pixels, s["conv1.weight"], stride=s["conv1.weight"].shape[-1])
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([s["class_embedding"].expand(1, 1, -1), x], dim=1) + s["positional_embedding"]
    x = F.layer_norm(x, (width,), s["ln_pre.weight"], s["ln_pre.bias"])
    blocks = sorted({k.split(".")[2] for k in s if k.startswith("transformer.resblocks.")})
    for i in blocks:
        b = f"transformer.resblocks.{i}."
        h = F.layer_norm(x, (width,), s[b + "ln_1.weight"], s[b + "ln_1.bias"])
        q, k, v = F.linear(h, s[b + "attn.in_proj_weight"], s[b + "attn.in_proj_bias"]).chunk(3, -1)
        heads = width // 64
        q, k, v = (t.view(1, -1, heads, 64).transpose(1, 2) for t in (q, k, v))
        attended = ((q @ k.transpose(-1, -2)) / 8).softmax(-1) @ v
        x = x + F.linear(attended.transpose(1, 2).reshape(1, -1, width),
                         s[b + "attn.out_proj.weight"], s[b + "attn.out_proj.bias"])
        h = F.layer_norm(x, (width,), s[b + "ln_2.weight"], s[b + "ln_2.bias"])
        h = F.linear(h, s[b + "mlp.c_fc.weight"], s[b + "mlp.c_fc.bias"])
        x = x + F.linear(h * torch.sigmoid(1.702 * h), s[b + "mlp.c_proj.weight"],
                         s[b + "mlp.c_proj.bias"])
    return F.layer_norm(x, (width,), s["ln_post.weight"], s["ln_post.bias"]) @ s["proj"]


def test_openai_clip_archive_gives_50_projected_tokens(tmp_path):
    path = tmp_path / "ViT-B-32.pt"
    state = write_openai_clip(path)
    clip = ClipFeatures.load(path)
    image = np.random.default_rng(0).integers(0, 255, (180, 260, 3), dtype=np.uint8)
    features = clip(image)
    assert features.shape == (50, 64)
    pixels = clip.processor(images=__import__("PIL.Image").Image.fromarray(image),
                            return_tensors="pt")["pixel_values"]
    assert pixels.shape == (1, 3, 224, 224)
    torch.testing.assert_close(features, openai_clip_features(state, pixels)[0],
                               atol=1e-4, rtol=1e-4)


def test_bad_clip_files_are_named(tmp_path):
    with pytest.raises(VisionLoadError, match="not found"):
        ClipFeatures.load(tmp_path / "ViT-B-32.pt")
    torch.save({"visual.conv1.weight": torch.zeros(64, 3, 32, 32)}, tmp_path / "cut.pt")
    with pytest.raises(VisionLoadError, match="missing CLIP tensor"):
        ClipFeatures.load(tmp_path / "cut.pt")


def test_a_mini_omni2_folder_answers_a_question_about_an_image(tmp_path):
    from omni_tiny import lit_config, write_lit_checkpoint, write_snac
    from omnitalk.omni.checkpoint import CheckpointError
    from omnitalk.omni.inference import AnswerDone, OmniInference
    from omnitalk.omni.settings import DecodingOptions, OmniPaths, OmniSettings

    write_lit_checkpoint(tmp_path, lit_config(vision=True))
    write_openai_whisper(tmp_path / "small.pt")
    write_snac(tmp_path / "snac")
    settings = OmniSettings(paths=OmniPaths(checkpoint=str(tmp_path)),
                            decoding=DecodingOptions(max_steps=12))
    with pytest.raises(CheckpointError, match="no CLIP encoder"):
        list(OmniInference.load(settings).answer(np.zeros(8000, np.float32),
                                                 image=np.zeros((64, 64, 3), np.uint8)))
    write_openai_clip(tmp_path / "ViT-B-32.pt")
    inference = OmniInference.load(settings)
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    events = list(inference.answer(load_audio(FIXTURES / "jfk.flac")[:16000], image=image))
    assert isinstance(events[-1], AnswerDone) and events[-1].steps == 12
