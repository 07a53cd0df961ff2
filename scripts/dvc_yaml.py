"""Write the code deps of every dvc.yaml stage from the import graph (`make dvc-yaml`).

A stage runs `python -m repo_agent.pipeline.<step>`; its code deps are every module that step
can import (scripts/import_graph.py): a whole folder where the step can import at least half of
its modules, single files elsewhere, always single files at the package root and in pipeline/
(a step never reruns for another step's code), plus the package data a module reads. The
other deps (data, models) and everything else in dvc.yaml are kept as written, comments
included. `--check` writes nothing and exits 1 when dvc.yaml is not what this would write.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from import_graph import ROOT, closure, module_files, stage_module
from ruamel.yaml import YAML

CODE = "src/"
PACKAGE = ROOT / "src" / "repo_agent"
FILE_LEVEL = {PACKAGE, PACKAGE / "pipeline"}
# Package data read at run time, by the module that reads it.
DATA = {"repo_agent.suites.loader": PACKAGE / "suites" / "builtin"}


def code_deps(module: str) -> list[str]:
    """The files (or whole folders) of everything `module` can import, sorted."""
    files = module_files()
    modules = closure(module)
    needed = {files[m] for m in modules if files[m].name != "__init__.py"}
    by_folder: dict[Path, set[Path]] = {}
    for path in files.values():
        if path.name != "__init__.py":
            by_folder.setdefault(path.parent, set()).add(path)
    deps: set[Path] = {DATA[m] for m in modules if m in DATA}
    for folder, members in by_folder.items():
        used = members & needed
        if folder in FILE_LEVEL or 2 * len(used) < len(members):
            deps |= used
        else:
            deps.add(folder)
    # A folder dep covers the files and folders below it.
    deps = {d for d in deps if not any(p in d.parents for p in deps if p.is_dir())}
    return sorted(d.relative_to(ROOT).as_posix() for d in deps)


def with_code_deps(stage: dict) -> None:
    """Replace the `src/` deps of one stage (or of a foreach stage's `do`) in place."""
    body = stage.get("do", stage)
    others = [d for d in body.get("deps", []) if not str(d).startswith(CODE)]
    body["deps"] = [*code_deps(stage_module(body["cmd"])), *others]


def render(path: Path) -> str:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    doc = yaml.load(path.read_text(encoding="utf-8"))
    for stage in doc["stages"].values():
        with_code_deps(stage)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml is stale")
    parser.add_argument("--file", type=Path, default=ROOT / "dvc.yaml")
    args = parser.parse_args()
    text = render(args.file)
    if args.check:
        if text != args.file.read_text(encoding="utf-8"):
            print(f"{args.file}: stage code deps are stale; run `make dvc-yaml`", file=sys.stderr)
            return 1
        return 0
    args.file.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
