"""litgpt's `model_config.yaml`: the released configs load, and settings the model does not
build are refused by name, never loaded into a model that computes something else."""

from __future__ import annotations

import pytest
import yaml

from omni_tiny import lit_config
from omnitalk.omni.config import OmniConfig, OmniConfigError

# Mini-Omni's released dimensions (../shared/specs/mini-omni.md 1.1); lit_config has the rest.
RELEASED = {"n_layer": 24, "n_embd": 896, "n_head": 14, "n_query_groups": 2, "head_size": 64,
            "intermediate_size": 4864, "whisper_adapter_dim": 768}


def load(tmp_path, config: dict) -> OmniConfig:
    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(config))
    return OmniConfig.from_yaml(path)


def test_the_released_mini_omni_and_mini_omni2_configs_load(tmp_path):
    assert load(tmp_path, lit_config(**RELEASED)) == OmniConfig()
    mini_omni2 = lit_config(vision=True, **RELEASED, vision_adapter_dim=512)
    assert load(tmp_path, mini_omni2) == OmniConfig(vision_adapter_dim=512)
    assert load(tmp_path, lit_config()).n_embd == 64  # the tiny test checkpoints


@pytest.mark.parametrize(("key", "value"), [
    ("scale_embeddings", True),
    ("tie_word_embeddings", False),
    ("lm_head_bias", True),
    ("n_expert", 8),
    ("bias", True),
    ("add_qkv_bias", False),
    ("parallel_residual", True),
    ("shared_attention_norm", True),
    ("mlp_class_name", "LLaMAMoE"),
    ("norm_class_name", "LayerNorm"),
    ("rotary_percentage", 0.25),
    ("rope_condense_ratio", 2),
    ("asr_adapter", "mlp"),
    ("post_adapter", True),
    ("audio_vocab_size", 4096),
    ("padded_vocab_size", 181_248),
])
def test_an_unimplemented_setting_is_refused_with_its_key_and_value(tmp_path, key, value):
    with pytest.raises(OmniConfigError, match=f"{key} = {value!r} is not supported"):
        load(tmp_path, lit_config(**{key: value}))


@pytest.mark.parametrize(("key", "default"), [
    ("tie_word_embeddings", False), ("bias", True), ("parallel_residual", True),
    ("mlp_class_name", "GptNeoxMLP"), ("norm_class_name", "LayerNorm"),
    ("rotary_percentage", 0.25),
])
def test_a_missing_setting_means_litgpt_s_default_and_is_refused_when_unimplemented(
        tmp_path, key, default):
    config = lit_config()
    del config[key]
    with pytest.raises(OmniConfigError, match=f"{key} is not set, and litgpt's default "
                                              f"{default!r} is not supported"):
        load(tmp_path, config)


def test_litgpt_s_derived_defaults_are_checked_too(tmp_path):
    config = lit_config()
    del config["add_qkv_bias"]  # litgpt then takes bias (false): no QKV bias
    with pytest.raises(OmniConfigError, match="add_qkv_bias is not set"):
        load(tmp_path, config)
    config = lit_config()
    del config["padded_vocab_size"]  # litgpt rounds vocab_size up to padding_multiple
    with pytest.raises(OmniConfigError, match="padded_vocab_size is not set, and litgpt's "
                                              "default 50688"):
        load(tmp_path, config)
    config["vocab_size"], config["padding_multiple"] = 181_120, 64
    assert load(tmp_path, config) == load(tmp_path, lit_config())


def test_a_gemma_name_is_refused_for_its_rms_norm_offset(tmp_path):
    with pytest.raises(OmniConfigError, match="name = 'Gemma-2b' is not supported"):
        load(tmp_path, lit_config(name="Gemma-2b"))
