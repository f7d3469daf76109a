"""Audio tokenizers: the SNAC codec of the Mini-Omni family, decoded in streaming chunks."""
