"""How the pipeline serves each of its models as a policy: the teacher, the embedded or
configured base student, and the fine-tuned students (local weights or a remote model name)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from repo_agent.pipeline import paths
from repo_agent.pipeline.params import EvalModel, Params
from repo_agent.policies.config import PolicyConfig
from repo_agent.training.student import student_model_path

MODEL_DIRS = {"sft": paths.MODELS_SFT, "dpo": paths.MODELS_DPO}


def served_policy(
    params: Params,
    model: EvalModel,
    temperature: float,
    cache_dir: Path,
    model_dir: Path | None = None,
) -> PolicyConfig:
    """The policy config that serves `model` (`model_dir` overrides where sft/dpo weights are)."""
    if model == "teacher":
        return params.teacher.model_copy(update={"explore": 0.0, "cache_dir": str(cache_dir)})
    update: dict[str, Any] = {"temperature": temperature, "cache_dir": str(cache_dir)}
    if model == "base":
        update["model"] = student_model_path(params.student.model, paths.MODELS_BASE)
    else:
        local = model_dir or MODEL_DIRS[model]
        remote = local / paths.REMOTE_MODEL_FILE
        if remote.is_file():
            info = json.loads(remote.read_text(encoding="utf-8"))
            update |= {"kind": info["provider"], "model": info["model"]}
        else:
            # Local weights run on the student's local engine: vllm if it is one, else hf.
            engine = "vllm" if params.student.kind == "vllm" else "hf"
            update |= {"kind": engine, "model": str(local)}
    return params.student.policy(**update)


def model_fingerprint(model_dir: Path) -> str:
    """A hash of a model directory's files (names and contents), to tell models apart."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
