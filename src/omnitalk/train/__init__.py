"""Staged training that teaches a causal LM to hear and speak ("Any Model Can Talk")."""
