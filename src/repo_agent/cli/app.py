"""The `repo-agent` command line: each command parses its options, calls the package, prints."""

from __future__ import annotations

import typer

from repo_agent.cli import data, profiles, runs, tasks, training

HELP = (
    "Make small LLMs reliable tool-using agents that fix bugs: run agents on bug-fix tasks, "
    "turn their traces into SFT rows and DPO preference pairs, and plan the fine-tuning.\n\n"
    "`dvc repro` runs the whole pipeline (rollout, extract, pair, split, finetune, eval); these "
    "commands run its steps on files you choose. Runtime: run, view. Data: extract, pair, "
    "split. Training: estimate. Tasks: tasks list | validate | generate. Params: profile list | "
    "show | apply."
)

RUNTIME, DATA, TRAINING, TASKS, PARAMS = "Runtime", "Data", "Training", "Tasks", "Params"


app = typer.Typer(add_completion=False, no_args_is_help=True, help=HELP)


app.add_typer(tasks.tasks_app, name="tasks", rich_help_panel=TASKS)
app.add_typer(profiles.profile_app, name="profile", rich_help_panel=PARAMS)
app.command("run", rich_help_panel=RUNTIME)(runs.run)
app.command("view", rich_help_panel=RUNTIME)(runs.view)
app.command("extract", rich_help_panel=DATA)(data.extract)
app.command("pair", rich_help_panel=DATA)(data.pair)
app.command("split", rich_help_panel=DATA)(data.split)
app.command("estimate", rich_help_panel=TRAINING)(training.estimate)

if __name__ == "__main__":
    app()
