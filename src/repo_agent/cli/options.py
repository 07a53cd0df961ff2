"""Command options built from config models, as TRL builds its CLI from its config classes: a
model's fields give each option its name, type, default, help text and bounds, so a params
field is an option by construction and its default lives in one place."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from repo_agent.cli.common import fail


@dataclass(frozen=True)
class Options:
    """The options of one config parameter of a command: the fields of `models` (one model,
    or the members of a union keyed by `kind`, built by `build`), less `exclude`; `names` maps
    a field to its option's name where that is not the field name with dashes."""

    models: tuple[type[BaseModel], ...]
    build: Callable[[dict[str, Any]], Any] | None = None
    exclude: frozenset[str] = frozenset()
    names: Mapping[str, str] = field(default_factory=dict)
    panel: str | None = None

    @property
    def union(self) -> bool:
        return len(self.models) > 1

    def fields(self) -> dict[str, list[tuple[type[BaseModel], FieldInfo]]]:
        """Each field, with every model that has it, in the order the models declare them."""
        out: dict[str, list[tuple[type[BaseModel], FieldInfo]]] = {}
        for model in self.models:
            for name, info in model.model_fields.items():
                if name not in self.exclude:
                    out.setdefault(name, []).append((model, info))
        return out

    def flag(self, name: str) -> str:
        return "--" + self.names.get(name, name.replace("_", "-"))


def config_options(**configs: Options) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the options of each config parameter named in `configs`: the parameter
    is replaced by one option per field, and the command gets the validated config (a bad
    value exits 2 naming its option)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        params: list[inspect.Parameter] = []
        for param in signature.parameters.values():
            spec = configs.get(param.name)
            # All keyword-only: typer passes options by name, in any order.
            own = [param.replace(kind=inspect.Parameter.KEYWORD_ONLY)]
            params += own if spec is None else list(_parameters(param.name, spec))
        owner = {f"{p}__{name}": p for p, spec in configs.items() for name in spec.fields()}

        @functools.wraps(command)
        def run(**kwargs: Any) -> Any:
            given: dict[str, dict[str, Any]] = {p: {} for p in configs}
            for key in list(kwargs):
                if key in owner:
                    value = kwargs.pop(key)
                    if value is not None:
                        given[owner[key]][key.split("__", 1)[1]] = _plain(value)
            for p, spec in configs.items():
                kwargs[p] = _build(spec, given[p])
            return command(**kwargs)

        run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return decorate


def _build(spec: Options, values: dict[str, Any]) -> Any:
    names = {f: spec.flag(f).removeprefix("--") for f in spec.fields()}
    if spec.union:
        kind = values.get("kind", spec.models[0].model_fields["kind"].default)
        model = next(m for m in spec.models if m.model_fields["kind"].default == kind)
        foreign = [spec.flag(f) for f in values if f not in model.model_fields]
        if foreign:
            fail(f"{', '.join(foreign)}: not an option of {spec.flag('kind')} {kind}")
    try:
        return spec.build(values) if spec.build else spec.models[0](**values)
    except ValidationError as exc:
        fail(exc, options=names)


def _plain(value: Any) -> Any:
    """A typer value as the model takes it (enum members as their names)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.value if isinstance(value, StrEnum) else value


def _parameters(prefix: str, spec: Options) -> Iterable[inspect.Parameter]:
    for name, owners in spec.fields().items():
        info = owners[0][1]
        kind = _type(info.annotation)
        if spec.union and name == "kind":  # each member has one kind; the option takes all
            kind = Literal[tuple(m.model_fields["kind"].default for m in spec.models)]
        # None stands for "not given": the model's default then applies, shown in the help.
        value = info.get_default(call_default_factory=True)
        default = None if spec.union or isinstance(value, list) else value
        bounds = {type(m).__name__: m for m in info.metadata}
        help_text = info.description or ""
        if spec.union and len(owners) < len(spec.models):
            kinds = ", ".join(m.model_fields["kind"].default for m, _ in owners)
            help_text = f"{help_text} ({kinds})".lstrip()
        flag = spec.flag(name)
        option = typer.Option(
            f"{flag}/--no-{flag[2:]}" if _unwrap(kind) is bool else flag,
            help=help_text,
            min=getattr(bounds.get("Ge"), "ge", None),
            max=getattr(bounds.get("Le"), "le", None),
            show_default=_shown(owners) if default is None else True,
            rich_help_panel=spec.panel,
        )
        optional = kind | None if default is None and not _optional(kind) else kind
        yield inspect.Parameter(
            f"{prefix}__{name}",
            inspect.Parameter.KEYWORD_ONLY,
            default=default,
            annotation=Annotated[optional, option],
        )


def _shown(owners: list[tuple[type[BaseModel], FieldInfo]]) -> str | bool:
    """The default the help shows for an option left out: the model's, or "per kind"."""
    defaults = [i.get_default(call_default_factory=True) for _, i in owners]
    if any(d != defaults[0] for d in defaults):
        return "per kind"
    if isinstance(defaults[0], list):
        return ", ".join(map(str, defaults[0])) or "none"
    return False if defaults[0] is None else str(defaults[0])


def _type(annotation: Any) -> Any:
    """The option type of a field: a list of Literal names becomes a list of an enum (typer
    takes Literal values but no list of them)."""
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        if get_origin(item) is Literal:
            names = get_args(item)
            return list[StrEnum("Choice", [(n, n) for n in names])]  # type: ignore[misc]
    return annotation


def _optional(annotation: Any) -> bool:
    return type(None) in get_args(annotation)


def _unwrap(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if _optional(annotation) and len(args) == 1 else annotation
