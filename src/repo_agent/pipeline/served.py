"""How the pipeline serves each of its models as a policy: the teacher, the embedded or
configured base student, and the fine-tuned students (local weights or a remote model name)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from repo_agent.pipeline import paths
from repo_agent.pipeline.params import EvalModel, Params
from repo_agent.policies.config import OracleConfig, PolicyConfig, replace_policy
from repo_agent.training.student import student_model_path

MODEL_DIRS = {"sft": paths.MODELS_SFT, "dpo": paths.MODELS_DPO}


def remote_record(model: EvalModel, model_dir: Path | None = None) -> dict[str, Any] | None:
    """The remote fine-tune record of a fine-tuned model (None for local weights)."""
    if model not in MODEL_DIRS:
        return None
    remote = (model_dir or MODEL_DIRS[model]) / paths.REMOTE_MODEL_FILE
    return json.loads(remote.read_text(encoding="utf-8")) if remote.is_file() else None


def labeller_config(params: Params, cache_dir: Path | None = None) -> PolicyConfig:
    """The teacher without its seeded detours (an oracle's `explore`): how it labels student
    states and how eval@teacher serves it."""
    update: dict[str, Any] = {"explore": 0.0} if isinstance(params.teacher, OracleConfig) else {}
    if cache_dir is not None:
        update["cache_dir"] = str(cache_dir)
    return replace_policy(params.teacher, **update)


def served_policy(
    params: Params,
    model: EvalModel,
    temperature: float,
    cache_dir: Path,
    model_dir: Path | None = None,
    endpoint: str | None = None,
) -> PolicyConfig:
    """The policy config that serves `model` (`model_dir` overrides where sft/dpo weights are;
    `endpoint` is the name `model_endpoint` yielded, for a model served by an endpoint)."""
    if model == "teacher":
        return labeller_config(params, cache_dir)
    update: dict[str, Any] = {"temperature": temperature, "cache_dir": str(cache_dir)}
    record = remote_record(model, model_dir)
    serve = (record or {}).get("serve", "name")
    if model == "base":
        update["model"] = student_model_path(params.student.model, paths.MODELS_BASE)
    elif record is None or serve == "download":  # weights in the model dir
        # Local weights run on the student's local engine: vllm if it is one, else hf.
        engine = "vllm" if params.student.kind == "vllm" else "hf"
        update |= {"kind": engine, "model": str(model_dir or MODEL_DIRS[model])}
    elif serve == "endpoint":
        if endpoint is None:
            raise RuntimeError(f"{model} is served by an endpoint: open it with model_endpoint")
        update |= {"kind": record["provider"], "model": endpoint}
    else:
        update |= {"kind": record["provider"], "model": record["model"]}
    return replace_policy(params.student, **update)


@contextmanager
def model_endpoint(
    params: Params, model: EvalModel, cache_dir: Path, model_dir: Path | None = None
) -> Iterator[str | None]:
    """For a fine-tune the record says to serve through a dedicated endpoint: start one, yield
    the name to call it by, and stop it afterwards (whatever happens). Else yields None."""
    record = remote_record(model, model_dir)
    if record is None or record.get("serve") != "endpoint":
        yield None
        return
    from repo_agent.training.remote.endpoint import dedicated_endpoint

    cfg = params.finetune.remote
    state = cache_dir / "endpoint.json"
    cache_dir.mkdir(parents=True, exist_ok=True)
    with dedicated_endpoint(
        record["model"], cfg, state, poll_interval_s=cfg.poll_interval_s
    ) as name:
        yield name


def model_fingerprint(model_dir: Path) -> str:
    """A hash of a model directory's files (names and contents), to tell models apart."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
