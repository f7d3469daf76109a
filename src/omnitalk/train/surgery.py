"""Any causal LM from transformers -> a talker: the 8-stream model of `omnitalk.omni.model`.

The LM's decoder is kept as it is. Its embedding table grows from the text vocabulary (padded
to a multiple of 64) to the talker's layout: 64 text special slots, then 7 x 4160 audio rows
(`omnitalk.omni.layout.Vocab`). The new rows are drawn from the distribution of the old ones
(per-dimension mean and spread), so that they look like words to the decoder. The head is tied
to the table, as in Mini-Omni. A Whisper adapter (and optionally a CLIP one) is attached, its
output scaled to the embeddings' size, so that features look like embeddings too.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import torch

from omnitalk.engines.base import EngineError
from omnitalk.omni.config import OmniConfig
from omnitalk.omni.layout import Vocab
from omnitalk.omni.model import OmniModel

log = logging.getLogger(__name__)

CTRANSLATE2_TINY_EN = "ctranslate2:"  # the packaged Whisper tiny.en, 384 wide
TINY = "tiny"  # a random small Llama with SmolLM2's vocabulary, for trying the mechanics


def packaged_lm_cache() -> Path:
    """Where the packaged SmolLM2, dequantised once, is kept for fast loading: named by the
    GGUF file's size and time, so that another version of the package gets its own copy."""
    import os

    from omnitalk.engines.packaged import smollm2_gguf_path

    gguf = smollm2_gguf_path()
    root = Path(os.environ.get("OMNITALK_CACHE") or Path.home() / ".cache" / "omnitalk")
    return root / f"smollm2-135m-fp32-{gguf.stat().st_size}-{int(gguf.stat().st_mtime)}"


def _packaged_lm():
    """Dequantising the GGUF takes about 25 s here; the saved fp32 copy loads in a second or
    two, with the same weights."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from omnitalk.engines.packaged import smollm2_gguf_path

    cache = packaged_lm_cache()
    if not (cache / "config.json").is_file():
        gguf = smollm2_gguf_path()
        options = {"gguf_file": gguf.name}
        lm = AutoModelForCausalLM.from_pretrained(str(gguf.parent), dtype=torch.float32,
                                                  **options)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **options)
        partial = cache.with_name(cache.name + ".partial")
        # transformers will not save a model it loaded from GGUF; its weights are plain fp32.
        from safetensors.torch import save_model

        if hasattr(lm.config, "quantization_config"):
            del lm.config.quantization_config
        partial.mkdir(parents=True, exist_ok=True)
        lm.config.save_pretrained(partial)
        save_model(lm, str(partial / "model.safetensors"))  # the tied head is stored once
        tokenizer.save_pretrained(partial)
        partial.replace(cache)  # whole or absent: a kill leaves no half copy to load
    return (AutoModelForCausalLM.from_pretrained(str(cache), dtype=torch.float32),
            AutoTokenizer.from_pretrained(str(cache)).backend_tokenizer)


def load_lm(spec: str):
    """A causal LM and its `tokenizers.Tokenizer`: a transformers folder, a .gguf file, ""
    for the packaged SmolLM2-135M (kept dequantised in `packaged_lm_cache()`), or "tiny"."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from omnitalk.engines.packaged import smollm2_gguf_path

    if spec in ("", TINY):
        gguf = smollm2_gguf_path()
        folder, options = str(gguf.parent), {"gguf_file": gguf.name}
    elif spec.endswith(".gguf"):
        folder, options = str(Path(spec).parent), {"gguf_file": Path(spec).name}
    else:
        folder, options = spec, {}
    try:
        if spec == "":
            return _packaged_lm()
        tokenizer = AutoTokenizer.from_pretrained(folder, **options).backend_tokenizer
        if spec == TINY:
            config = LlamaConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=256,
                                 intermediate_size=512, num_hidden_layers=4,
                                 num_attention_heads=4, num_key_value_heads=2,
                                 max_position_embeddings=2048, tie_word_embeddings=True)
            torch.manual_seed(0)
            return LlamaForCausalLM(config), tokenizer
        return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                    **options), tokenizer
    except (OSError, ValueError) as error:
        raise EngineError(f"cannot load a causal LM from {spec or 'the packaged SmolLM2'}: "
                          f"{error}") from None


def _like(rows: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    mean, spread = rows.mean(dim=0), rows.std(dim=0)
    return mean + spread * torch.randn(count, rows.shape[1], generator=generator)


def talker_from_lm(lm, whisper_dim: int, vision_dim: int | None = None,
                   audio_encoder: str = CTRANSLATE2_TINY_EN, block_size: int = 2048,
                   seed: int = 0) -> OmniModel:
    decoder = lm.get_decoder()
    if not lm.config.tie_word_embeddings:
        log.warning("%s has its own output head; the talker ties the head to the embedding "
                    "table, so that head's weights are not used", type(lm).__name__)
    old = decoder.get_input_embeddings().weight.data.float().clone()
    text_vocab = math.ceil(old.shape[0] / 64) * 64
    vocab = Vocab(text_vocab)
    generator = torch.Generator().manual_seed(seed)
    # transformers resizes the LM's own embedding module (some scale what they return).
    lm.resize_token_embeddings(vocab.size, mean_resizing=False)
    with torch.no_grad():
        decoder.get_input_embeddings().weight[old.shape[0]:] = _like(
            old, vocab.size - old.shape[0], generator)
    backbone = json.loads(decoder.config.to_json_string(use_diff=False))
    config = OmniConfig(
        n_embd=decoder.config.hidden_size, intermediate_size=decoder.config.intermediate_size,
        block_size=min(block_size, decoder.config.max_position_embeddings),
        whisper_adapter_dim=whisper_dim, vision_adapter_dim=vision_dim, text_vocab=text_vocab,
        backbone=backbone, audio_encoder=audio_encoder,
    )
    model = OmniModel(config, backbone=decoder)
    target = float(old.pow(2).mean().sqrt())
    for adapter in (model.whisper_adapter, model.vision_adapter):
        if adapter is None:
            continue
        with torch.no_grad():  # make adapted features as large as an embedding row
            probe = adapter(torch.randn(256, adapter.fc_1.in_features, generator=generator))
            adapter.proj.weight.mul_(target / float(probe.pow(2).mean().sqrt()))
    return model
