"""Full duplex: the turn-taking state head, turn policies replayed over recorded audio, Smart
Turn as a peer, and the stream formats of OmniFlatten and SyncLLM (docs/duplex.md)."""
