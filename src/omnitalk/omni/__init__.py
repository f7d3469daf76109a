"""End-to-end speech LMs (Mini-Omni family): layout, model, checkpoints, decoding, inference."""
