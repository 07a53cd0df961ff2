"""The pipeline's first stage checks, before any work, that every policy params.yaml will run
may run its tests: without bubblewrap an hf or API student is refused in one line (exit 2),
unless `agent.sandbox: none` says to accept unisolated test runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from import_graph import ROOT

from repo_agent.pipeline.params import parse_params
from repo_agent.pipeline.rollout import check_sandbox, pipeline_policies
from repo_agent.runtime.sandbox import SandboxError

NO_BWRAP = str(Path(sys.executable).parent)  # python, no bwrap


ORACLE_ONLY = {"eval": {"models": ["teacher"], "grammar": []}, "onpolicy": {"rollouts": 0}}


def default_params(**sections: dict) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, values in sections.items():
        params[name].update(values)
    return params


def test_the_policies_the_pipeline_runs() -> None:
    assert pipeline_policies(parse_params(default_params())) == {
        "teacher": "oracle",
        "student": "hf",
    }
    only_teacher = default_params(
        eval={"models": ["teacher"], "grammar": []}, onpolicy={"rollouts": 0}
    )
    assert pipeline_policies(parse_params(only_teacher)) == {"teacher": "oracle"}
    remote = default_params(finetune={"backend": "together", "base_model": "m"})
    assert pipeline_policies(parse_params(remote))["fine-tuned student"] == "together"


def test_check_sandbox_without_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", NO_BWRAP)
    with pytest.raises(SandboxError, match=r"the student \(hf\) writes code we do not control"):
        check_sandbox(parse_params(default_params()))
    none = parse_params(default_params(agent={"sandbox": "none"}))
    assert check_sandbox(none) == "test runs NOT sandboxed (agent.sandbox: none)"
    oracle_only = default_params(
        eval={"models": ["teacher"], "grammar": []}, onpolicy={"rollouts": 0}
    )
    assert check_sandbox(parse_params(oracle_only)).startswith(
        "test runs NOT sandboxed (bubblewrap"
    )
    never = parse_params(default_params(agent={"test_policy": "never"}))
    assert check_sandbox(never) == "no test runs (agent.test_policy: never)"


def rollout_stage(cwd: Path, params: dict, path: str = NO_BWRAP) -> subprocess.CompletedProcess:
    """`python -m repo_agent.pipeline.rollout` in `cwd` with these params and this PATH."""
    (cwd / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = dict(os.environ, PATH=path)
    return subprocess.run(
        [sys.executable, "-m", "repo_agent.pipeline.rollout"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_rollout_stage_refuses_before_any_work(tmp_path: Path) -> None:
    proc = rollout_stage(tmp_path, default_params())
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert "the student (hf) writes code we do not control" in errors[0]
    assert "apt-get install bubblewrap" in errors[0] and "agent.sandbox: none" in errors[0]
    assert "stage rollout: failed after" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written


@pytest.mark.needs("bwrap")
def test_the_rollout_stage_says_its_test_runs_are_sandboxed(tmp_path: Path) -> None:
    params = default_params(suite={"names": ["builtin"], "max_tasks": 1})
    params["student"]["build"].update(vocab_size=300, hidden_size=16, intermediate_size=32)
    params["student"]["build"].update(num_layers=1, num_heads=2, num_kv_heads=1)
    proc = rollout_stage(tmp_path, params, os.environ["PATH"])
    assert proc.returncode == 0, proc.stderr
    assert "rollout: test runs sandboxed (bubblewrap)" in proc.stderr
    assert "teacher rollouts: test runs sandboxed (bubblewrap)" in proc.stderr
