"""End-to-end speech LMs of the Mini-Omni family: token layout, SNAC code frames (more to come)."""
