"""The package's shape: no import circles, imports point down the layers, package __init__
files import nothing, and every stage's dvc.yaml deps cover all the code the stage can run."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from import_graph import ROOT, closure, cycles, dvc_stages, graph, module_files

# Which folders a folder may import from (the layers of docs/architecture.md, bottom to top).
# "core" is the package root: records, files, formats, traces, progress, device, retries, ...
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "runtime": {"core"},
    "policies": {"core", "runtime"},
    "suites": {"core", "runtime"},
    "data": {"core", "runtime"},
    "training": {"core", "policies"},
    "evaluation": {"core"},
    "pipeline": {"core", "runtime", "policies", "suites", "data", "training", "evaluation"},
    "cli": {"core", "runtime", "policies", "suites", "data", "training", "evaluation", "pipeline"},
}


def folder(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and module_files()[module].name != "__init__.py"):
        return "core"
    return parts[1]


def code_edges() -> dict[str, set[str]]:
    """Import edges, type-checking ones included, without the implicit ones to parent packages
    (whose __init__ files import nothing, see below)."""
    edges = graph(type_checking=True)
    return {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in edges.items()}


def test_the_graph_sees_lazy_imports() -> None:
    assert "repo_agent.policies.hf" in graph()["repo_agent.policies.factory"]


def test_no_import_circles() -> None:
    assert cycles(code_edges()) == []


def test_imports_point_down_the_layers() -> None:
    bad = [
        f"{m} ({folder(m)}) imports {t} ({folder(t)})"
        for m, targets in code_edges().items()
        for t in targets
        if folder(t) != folder(m) and folder(t) not in ALLOWED[folder(m)]
    ]
    assert bad == []


def test_package_init_files_import_nothing() -> None:
    """So importing one module never loads its siblings, and dvc.yaml need not list them."""
    for name, path in module_files().items():
        if path.name == "__init__.py":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
            assert not [i for i in imports if not _is_future(i)], name


def _is_future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


@pytest.fixture(scope="module")
def stages() -> dict[str, dict[str, object]]:
    return dvc_stages()


def test_stage_deps_cover_every_module_the_stage_can_import(
    stages: dict[str, dict[str, object]],
) -> None:
    files = module_files()
    missing = {}
    for name, stage in stages.items():
        deps: list[str] = stage["deps"]  # type: ignore[assignment]
        needed = sorted(
            str(files[m].relative_to(ROOT))
            for m in closure(str(stage["module"]))
            if files[m].name != "__init__.py"
        )
        lacking = [f for f in needed if not any(f == d or f.startswith(d + "/") for d in deps)]
        if lacking:
            missing[name] = lacking
    assert missing == {}, f"add to the dvc.yaml deps: {missing}"


def test_stage_code_deps_exist(stages: dict[str, dict[str, object]]) -> None:
    code = [d for s in stages.values() for d in s["deps"] if d.startswith("src/")]  # type: ignore[attr-defined]
    assert [d for d in code if not (ROOT / d).exists()] == []


def test_finetune_does_not_rerun_for_agent_or_policy_code(
    stages: dict[str, dict[str, object]],
) -> None:
    """Training depends on config models only, not on the runtime or policy code."""
    deps = stages["finetune@sft"]["deps"]
    for folder_dep in ("src/repo_agent/runtime", "src/repo_agent/policies", "src/repo_agent/data"):
        assert folder_dep not in deps


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(out.stdout.split())


def test_pure_modules_stay_light() -> None:
    """A pure transform loads neither the agent loop nor the policies, rich, torch or the SDKs."""
    for module in ("repo_agent.data.rubric", "repo_agent.data.split", "repo_agent.pipeline.params"):
        loaded = loaded_after(f"import {module}")
        heavy = {"torch", "transformers", "rich", "openai", "together", "repo_agent.runtime.agent"}
        assert not heavy & loaded, (module, heavy & loaded)
        assert not {m for m in loaded if m.startswith("repo_agent.policies.")} - {
            "repo_agent.policies.config"
        }, module


def test_importing_the_runtime_does_not_load_torch() -> None:
    loaded = loaded_after("import repo_agent.runtime.agent, repo_agent.policies.factory")
    assert "torch" not in loaded and "transformers" not in loaded
