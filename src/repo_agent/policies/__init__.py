"""Policies: who produces the next assistant message (oracle, scripted, hf, openai, together)."""
