"""End-to-end speech LMs of the Mini-Omni family: layout, model, checkpoints, decoding, inference."""
