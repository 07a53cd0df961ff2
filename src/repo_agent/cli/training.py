"""`repo-agent estimate`: tokens and cost of the fine-tuning jobs before any upload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from repo_agent.cli.common import console


def estimate(
    sft: Annotated[Path, typer.Option(help="SFT rows (JSONL)", exists=True, dir_okay=False)],
    pairs: Annotated[
        Path, typer.Option(help="preference rows (JSONL)", exists=True, dir_okay=False)
    ],
    price_per_mtok: Annotated[
        float | None, typer.Option(help="USD per 1M training tokens (see the provider's pricing)")
    ] = None,
    dpo_price_per_mtok: Annotated[
        float | None, typer.Option(help="DPO price if it differs from --price-per-mtok")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="SFT epochs")] = 3,
    dpo_epochs: Annotated[int, typer.Option(min=1, help="DPO epochs")] = 1,
) -> None:
    """Tokens in the SFT and preference files and the estimated cost of the jobs (≈4 chars per
    token), before anything is uploaded."""
    from repo_agent.training.estimate import estimate_jobs

    try:
        jobs = estimate_jobs(sft, pairs, epochs, dpo_epochs, price_per_mtok, dpo_price_per_mtok)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    table = Table(title="fine-tuning estimate (≈4 characters per token)")
    for col in ("job", "rows", "tokens/epoch", "epochs", "training tokens", "USD/1M", "cost USD"):
        table.add_column(col)
    for j in jobs:
        price = "-" if j.price_per_mtok is None else f"{j.price_per_mtok:g}"
        cost = "-" if j.cost_usd is None else f"{j.cost_usd:.2f}"
        table.add_row(
            j.job,
            str(j.rows),
            str(j.tokens_per_epoch),
            str(j.epochs),
            str(j.training_tokens),
            price,
            cost,
        )
    console.print(table)
    if all(j.cost_usd is not None for j in jobs):
        console.print(f"estimated total: ${sum(j.cost_usd or 0 for j in jobs):.2f}")
    else:
        console.print("give --price-per-mtok (from the provider's pricing page) for a cost")
