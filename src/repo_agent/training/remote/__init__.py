"""Remote fine-tuning (Together, OpenAI): SFT then DPO as managed jobs."""
