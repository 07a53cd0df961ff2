"""The `repo-agent` command line (entry point: repo_agent.cli.app:app)."""
