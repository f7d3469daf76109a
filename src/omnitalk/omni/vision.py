"""CLIP ViT-B/32 image features for Mini-Omni2: all 50 tokens projected to 512 dims.

Mini-Omni2 uses a CLIP fork whose image encoder applies the final norm and projection to every
token (class token first, then the 7 x 7 patches), not only to the class token. This loads
OpenAI's `ViT-B-32.pt` (a TorchScript archive, or a plain state dict with the same names) into
transformers' CLIP vision model and reproduces that output.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from omnitalk.engines.base import EngineError


class VisionLoadError(EngineError):
    pass


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:  # OpenAI ships CLIP as TorchScript; clip.load(jit=False) reads its state dict too
        return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
    except RuntimeError:
        pass
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise VisionLoadError(f"{path}: not a CLIP checkpoint ({error})") from None
    if not isinstance(state, dict):
        raise VisionLoadError(f"{path}: expected a state dict or a TorchScript CLIP model")
    return state


def _to_hf(state: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    vision, out = "vision_model.", {}
    out[vision + "embeddings.class_embedding"] = state["visual.class_embedding"]
    out[vision + "embeddings.patch_embedding.weight"] = state["visual.conv1.weight"]
    out[vision + "embeddings.position_embedding.weight"] = state["visual.positional_embedding"]
    for ours, theirs in (("pre_layrnorm", "ln_pre"), ("post_layernorm", "ln_post")):
        for part in ("weight", "bias"):
            out[f"{vision}{ours}.{part}"] = state[f"visual.{theirs}.{part}"]
    for i in range(layers):
        src, dst = f"visual.transformer.resblocks.{i}.", f"{vision}encoder.layers.{i}."
        for part in ("weight", "bias"):
            q, k, v = state[f"{src}attn.in_proj_{part}"].chunk(3)
            out[f"{dst}self_attn.q_proj.{part}"] = q
            out[f"{dst}self_attn.k_proj.{part}"] = k
            out[f"{dst}self_attn.v_proj.{part}"] = v
            for ours, theirs in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"),
                                 ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
                                 ("layer_norm2", "ln_2")):
                out[f"{dst}{ours}.{part}"] = state[f"{src}{theirs}.{part}"]
    out["visual_projection.weight"] = state["visual.proj"].T.contiguous()
    return out


class ClipFeatures:
    """An RGB image -> [tokens, projection_dim] features (50 x 512 for ViT-B/32)."""

    def __init__(self, model, image_size: int, dtype: torch.dtype = torch.float32) -> None:
        from transformers import CLIPImageProcessorPil

        self.model = model.to(dtype).eval()
        self.dtype = dtype
        self.processor = CLIPImageProcessorPil(
            size={"shortest_edge": image_size}, crop_size={"height": image_size,
                                                           "width": image_size})

    @classmethod
    def load(cls, path: str | Path, dtype: torch.dtype = torch.float32) -> ClipFeatures:
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        path = Path(path)
        if not path.is_file():
            raise VisionLoadError(f"CLIP model not found: {path} (OpenAI's ViT-B-32.pt)")
        state = _read_state(path)
        try:
            width, _, patch, _ = state["visual.conv1.weight"].shape
            grid = math.isqrt(state["visual.positional_embedding"].shape[0] - 1)
            layers = len({k.split(".")[3] for k in state
                          if k.startswith("visual.transformer.resblocks.")})
            config = CLIPVisionConfig(
                hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers,
                num_attention_heads=width // 64, image_size=grid * patch, patch_size=patch,
                projection_dim=state["visual.proj"].shape[1], hidden_act="quick_gelu",
                layer_norm_eps=1e-5,
            )
            weights = _to_hf(state, layers)
        except KeyError as error:
            raise VisionLoadError(f"{path}: missing CLIP tensor {error.args[0]}") from None
        model = CLIPVisionModelWithProjection(config)
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as error:
            raise VisionLoadError(f"{path}: tensors do not fit a CLIP ViT ({error})") from None
        return cls(model, config.image_size, dtype)

    def __call__(self, image) -> torch.Tensor:
        """A PIL image, an HxWx3 uint8 array, or a path."""
        from PIL import Image

        if isinstance(image, (str, Path)):
            image = Image.open(image)
        elif isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        pixels = self.processor(images=image.convert("RGB"), return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            tokens = self.model.vision_model(pixel_values=pixels.to(self.dtype)).last_hidden_state
            features = self.model.visual_projection(self.model.vision_model.post_layernorm(tokens))
        return features[0]
