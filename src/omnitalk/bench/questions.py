"""Spoken questions for the demo and the latency benchmark (spoken with `engines.speak`)."""

from __future__ import annotations

QUESTIONS = (
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Can you tell me a fun fact about the moon?",
    "What should I cook for dinner tonight?",
    "Why is the sky blue?",
    "How do I make a cup of tea?",
)
