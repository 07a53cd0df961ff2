"""What every stage script does: quiet the libraries, load params.yaml or exit, and say when
it starts and how long it took."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def timed_stage(name: str, user_errors: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Print `stage NAME: started` and `stage NAME: done in N s` (or `failed after N s`). An
    exception of `user_errors` (one the user fixes, e.g. a refused sandbox) ends the stage
    with one `error:` line and exit status 2 instead of a traceback."""
    start = time.monotonic()
    print(f"stage {name}: started", file=sys.stderr, flush=True)
    try:
        yield
    except user_errors as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        print(f"stage {name}: failed after {time.monotonic() - start:.1f} s", file=sys.stderr)
        raise SystemExit(2) from exc
    except BaseException:
        print(f"stage {name}: failed after {time.monotonic() - start:.1f} s", file=sys.stderr)
        raise
    print(f"stage {name}: done in {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
