"""Engines behind small interfaces (VAD, ASR, LLM, TTS) and their real backends."""
