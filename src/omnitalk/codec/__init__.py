"""Audio tokenizers: the SNAC codec of the Mini-Omni family, its 7-code frame order, decoded in
streaming chunks."""
