"""Full duplex: the turn-taking state head, Smart Turn as a peer, and the stream formats of
OmniFlatten and SyncLLM (docs/duplex.md)."""
