"""What every stage script does first: quiet the libraries and load params.yaml or exit."""

from __future__ import annotations

import os
import sys
import warnings

from repo_agent.pipeline.params import Params, ParamsError, load_params
from repo_agent.pipeline.paths import PARAMS


def quiet_libraries() -> None:
    """Silence library progress bars, tokenizer fork warnings and advisory warnings in logs."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


def stage_params() -> Params:
    """Load params.yaml or exit with a clear message naming the bad key."""
    quiet_libraries()
    try:
        return load_params(PARAMS)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
