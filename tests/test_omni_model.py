"""The talker loaded from released-format checkpoints computes what the saved tensors say.

`reference_logits` is an independent litgpt-0.4 forward written from the spec
(../shared/specs/mini-omni.md 1.3-1.5, 2.4) over the raw saved tensors: group-interleaved fused
QKV, rotate-half RoPE, RMSNorm, SwiGLU, mean of 8 embeddings, features overwriting audio rows.
"""

from __future__ import annotations

import logging
import math

import pytest
import torch
import yaml
from torch.nn import functional as F

from omni_tiny import lit_config, lit_state, write_lit_checkpoint
from omnitalk.omni import layout as lo
from omnitalk.omni.checkpoint import CheckpointError, export_safetensors, load_checkpoint
from omnitalk.omni.config import OmniConfigError
from omnitalk.omni.quantize import fast_codec_dtype, int8_kernel, set_precision


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def swiglu(state, prefix: str, x: torch.Tensor) -> torch.Tensor:
    gate = x @ state[f"{prefix}.fc_1.weight"].T
    up = x @ state[f"{prefix}.fc_2.weight"].T
    return (F.silu(gate) * up) @ state[f"{prefix}.proj.weight"].T


def reference_logits(state, config, ids, audio=None, audio_at=None, image=None, image_at=None):
    """Full-vocabulary logits [B, T, 181120] straight from the litgpt tensors."""
    wte = state["transformer.wte.weight"]
    x = wte[ids].clone()  # [B, 8, T, H]
    if audio is not None:
        x[:, :7, audio_at] = swiglu(state, "whisper_adapter", audio)[:, None]
    if image is not None:
        x[:, :7, image_at] = swiglu(state, "vision_adapter", image)[:, None]
    x = x.mean(dim=1)
    batch, length, _ = x.shape
    heads, groups, size = config["n_head"], config["n_query_groups"], config["head_size"]
    per_group = heads // groups
    angles = torch.arange(length)[:, None] * (
        1.0 / config["rope_base"] ** (torch.arange(0, size, 2) / size))[None]
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)

    def rope(t):
        half = size // 2
        return t * cos + torch.cat([-t[..., half:], t[..., :half]], -1) * sin

    mask = torch.ones(length, length, dtype=torch.bool).tril()
    for i in range(config["n_layer"]):
        block = f"transformer.h.{i}"
        h = rms_norm(x, state[f"{block}.norm_1.weight"])
        qkv = h @ state[f"{block}.attn.attn.weight"].T + state[f"{block}.attn.attn.bias"]
        qkv = qkv.view(batch, length, groups, per_group + 2, size)
        q = qkv[:, :, :, :per_group].reshape(batch, length, heads, size).transpose(1, 2)
        k = qkv[:, :, :, per_group].transpose(1, 2).repeat_interleave(per_group, dim=1)
        v = qkv[:, :, :, per_group + 1].transpose(1, 2).repeat_interleave(per_group, dim=1)
        scores = (rope(q) @ rope(k).transpose(-1, -2)) / math.sqrt(size)
        attended = scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v
        x = x + attended.transpose(1, 2).reshape(batch, length, -1) @ \
            state[f"{block}.attn.proj.weight"].T
        x = x + swiglu(state, f"{block}.mlp", rms_norm(x, state[f"{block}.norm_2.weight"]))
    return rms_norm(x, state["transformer.ln_f.weight"]) @ wte.T


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mini-omni")
    config = lit_config()
    state = write_lit_checkpoint(folder, config)
    return folder, config, state


def speech_inputs(config, frames=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    speech, text = lo.batch_speech_prompt(frames)
    ids = torch.from_numpy(lo.np.stack([speech.ids, text.ids]))
    audio = torch.randn(2, frames, config["whisper_adapter_dim"], generator=g)
    return ids, audio, speech.audio_positions


def test_loaded_logits_equal_a_direct_computation_from_the_saved_tensors(tiny):
    folder, config, state = tiny
    model = load_checkpoint(folder).model
    ids, audio, positions = speech_inputs(config)
    with torch.no_grad():
        text, audio_logits = model(ids, audio_features=audio, audio_positions=positions)
    expected = reference_logits(state, config, ids, audio, positions)
    torch.testing.assert_close(text, expected[..., :lo.MINI_OMNI.audio_base], atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(audio_logits.flatten(-2), expected[..., lo.MINI_OMNI.audio_base:],
                               atol=2e-4, rtol=1e-4)


def test_features_overwrite_only_the_audio_streams(tiny):
    folder, config, _ = tiny
    model = load_checkpoint(folder).model
    ids, audio, positions = speech_inputs(config)
    with torch.no_grad():
        embedded = model.embed(ids, audio_features=audio, audio_positions=positions)
        adapted = model.whisper_adapter(audio)
        text_row = model.wte(ids[:, lo.TEXT_STREAM])
    inside = (7 * adapted + text_row[:, positions]) / 8
    torch.testing.assert_close(embedded[:, positions], inside)
    outside = model.wte(ids[:, :, 0]).mean(1)
    torch.testing.assert_close(embedded[:, 0], outside)


def test_mini_omni2_image_layout_with_the_one_position_whisper_offset(tmp_path):
    config = lit_config(vision=True)
    state = write_lit_checkpoint(tmp_path, config)
    model = load_checkpoint(tmp_path).model
    frames = 4
    speech, text = lo.image_speech_batch_prompt(frames)
    ids = torch.from_numpy(lo.np.stack([speech.ids, text.ids]))
    g = torch.Generator().manual_seed(3)
    audio = torch.randn(2, frames, config["whisper_adapter_dim"], generator=g)
    image = torch.randn(2, lo.CLIP_FEATURES, config["vision_adapter_dim"], generator=g)
    assert speech.audio_positions == slice(52, 52 + frames)  # starts on input_a
    with torch.no_grad():
        text_logits, _ = model(ids, audio_features=audio, audio_positions=speech.audio_positions,
                               image_features=image, image_positions=speech.image_positions)
    expected = reference_logits(state, config, ids, audio, speech.audio_positions, image,
                                speech.image_positions)
    torch.testing.assert_close(text_logits, expected[..., :lo.MINI_OMNI.audio_base], atol=2e-4,
                               rtol=1e-4)


def test_export_to_safetensors_loads_back_identically(tiny, tmp_path):
    folder, config, _ = tiny
    checkpoint = load_checkpoint(folder)
    out = export_safetensors(checkpoint, tmp_path / "export")
    assert {p.name for p in out.iterdir()} >= {"model.safetensors", "omni_config.json",
                                               "tokenizer.json"}
    reloaded = load_checkpoint(out)
    ids, audio, positions = speech_inputs(config)
    with torch.no_grad():
        a = checkpoint.model(ids, audio_features=audio, audio_positions=positions)
        b = reloaded.model(ids, audio_features=audio, audio_positions=positions)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    # The tied head is stored once.
    from safetensors import safe_open

    with safe_open(out / "model.safetensors", "pt") as f:
        assert not any("lm_head" in key for key in f.keys())


def test_export_cli_writes_a_whole_checkpoint_folder(tiny, tmp_path, capsys):
    from omnitalk.cli import main

    folder, _, _ = tiny
    assert main(["export", str(folder), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert load_checkpoint(tmp_path / "out").model.config == load_checkpoint(folder).model.config
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "x")]) == 2
    assert "checkpoint folder not found" in capsys.readouterr().err


def test_the_embedding_wins_when_the_stored_head_differs(tmp_path, caplog):
    config = lit_config()
    state = lit_state(config)
    state["lm_head.weight"] = state["lm_head.weight"] + 1.0
    write_lit_checkpoint(tmp_path, config, state)
    with caplog.at_level(logging.INFO):
        model = load_checkpoint(tmp_path).model
    assert "lm_head differs" in caplog.text
    assert torch.equal(model.wte.weight, state["transformer.wte.weight"])


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.pop("transformer.h.1.mlp.fc_2.weight"), "missing tensor transformer.h.1.mlp.fc_2"),
    (lambda s: s.__setitem__("transformer.h.0.attn.attn.weight", torch.zeros(100, 64)),
     "transformer.h.0.attn.attn.weight has shape [100, 64], expected [128, 64]"),
    (lambda s: s.__setitem__("transformer.h.9.norm_1.weight", torch.zeros(64)),
     "unexpected tensor transformer.h.9.norm_1.weight"),
])
def test_a_bad_checkpoint_names_the_tensor(tmp_path, edit, message):
    config = lit_config()
    state = lit_state(config)
    edit(state)
    write_lit_checkpoint(tmp_path, config, state)
    with pytest.raises(CheckpointError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("missing", ["model_config.yaml", "tokenizer.json"])
def test_a_missing_file_is_named(tiny, tmp_path, missing):
    folder, _, _ = tiny
    for path in folder.iterdir():
        if path.name != missing:
            (tmp_path / path.name).symlink_to(path)
    with pytest.raises(CheckpointError, match=f"missing {missing}"):
        load_checkpoint(tmp_path)


def test_no_weights_and_unsupported_configs_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint folder not found"):
        load_checkpoint(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="no lit_model.pth"):
        load_checkpoint(tmp_path)
    write_lit_checkpoint(tmp_path, lit_config(parallel_residual=True))
    with pytest.raises(OmniConfigError, match="parallel_residual"):
        load_checkpoint(tmp_path)
    (tmp_path / "model_config.yaml").write_text(yaml.safe_dump({"n_layer": 2}))
    with pytest.raises(OmniConfigError, match="missing setting text_vocab_size"):
        load_checkpoint(tmp_path)
    (tmp_path / "lit_model.pth").write_bytes(b"not a checkpoint")
    (tmp_path / "model_config.yaml").write_text(yaml.safe_dump(lit_config()))
    with pytest.raises(CheckpointError, match="not a readable PyTorch state dict"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize(("precision", "kernel"),
                         [("bf16", "auto"), ("int8", "weight-only"), ("int8", "dynamic")])
def test_reduced_precision_stays_close_to_fp32(tiny, precision, kernel):
    folder, config, _ = tiny
    reference = load_checkpoint(folder).model
    reduced = set_precision(load_checkpoint(folder).model, precision, kernel)
    ids, audio, positions = speech_inputs(config)
    with torch.no_grad():
        text_ref, audio_ref = reference(ids, audio_features=audio, audio_positions=positions)
        text, audio_logits = reduced(ids, audio_features=audio, audio_positions=positions)
    for ours, theirs in ((text, text_ref), (audio_logits, audio_ref)):
        similarity = F.cosine_similarity(ours.float().flatten(0, -2),
                                         theirs.flatten(0, -2), dim=-1)
        assert similarity.min() > 0.99
    if precision == "int8":
        assert type(reduced.head).__name__ == "Int8Head"
        kinds = {type(m).__name__ for m in reduced.backbone.modules()}
        assert ("DynamicInt8Linear" in kinds) == (kernel == "dynamic")
        # The MLP's down projection keeps bf16 activations whatever the kernel.
        assert type(reduced.backbone.layers[0].mlp.down_proj).__name__ == "Int8Linear"


def test_int8_kernel_is_picked_by_cpu_feature():
    amx = {"amx": True, "avx512_bf16": True, "vnni": True}
    no_amx = {"amx": False, "avx512_bf16": True, "vnni": True}
    avx2 = {"amx": False, "avx512_bf16": False, "vnni": False}
    assert int8_kernel("auto", amx) == "weight-only"
    assert int8_kernel("auto", no_amx) == int8_kernel("auto", avx2) == "dynamic"
    assert int8_kernel("weight-only", no_amx) == "weight-only"
    assert fast_codec_dtype(no_amx) == torch.bfloat16
    assert fast_codec_dtype(avx2) == torch.float32
    with pytest.raises(ValueError, match="int8 kernel must be one of"):
        int8_kernel("fast")
