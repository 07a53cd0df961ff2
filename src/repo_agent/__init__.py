"""repo-agent: turn small open LLMs into reliable JSON-tool-using repo-fixing agents."""

__version__ = "0.1.0"
