"""What carries a supervisor's directives out: the `Actuator` protocol, and `ParameterTable`, the
actuator that keeps the supervised settings itself (`ballast supervise` saves it with its state;
the simulator has its own, which retunes running policies)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ballast.runtime.errors import UsageError
from ballast.runtime.supervisor_records import Directive


class Actuator(Protocol):
    """What carries directives out: `apply` and `undo` return a note for the log, and raise
    `UsageError` when they cannot (the directive is then marked failed, nothing changed)."""

    def apply(self, directive: Directive) -> str: ...

    def undo(self, directive_id: str) -> str:
        """Undo the directive applied as `directive_id`."""
        ...


class ParameterTable:
    """An `Actuator` that keeps the supervised settings itself: parameter values (or, for a
    parameter whose value it was not given, the offset applied since it started), enabled
    playbooks and probes, scheduled experiments and requested reviews. `ballast supervise`
    keeps one in its state file; the simulator has its own, which changes running policies."""

    def __init__(self, parameters: Mapping[str, float] | None = None) -> None:
        self.parameters: dict[str, float] = dict(parameters or {})
        self.offsets: dict[str, float] = {}
        self.enabled: dict[str, list[str]] = {"playbooks": [], "probes": []}
        self.requests: list[str] = []  # experiments and reviews, by directive id
        self.undo_log: dict[str, Any] = {}  # directive id → what undoing it restores

    def apply(self, directive: Directive) -> str:
        params = directive.params
        if directive.type in ("adjust_threshold", "adjust_confidence"):
            name, step = params["parameter"], float(params["step"])
            if name not in self.parameters:
                before = self.offsets.get(name, 0.0)
                self.offsets[name] = before + step
                self.undo_log[directive.id] = ("offset", name, before)
                return f"{name} {step:+g} (offset {self.offsets[name]:+g}: its value is not known here)"
            old = self.parameters[name]
            new = clamp(old + step, params.get("min"), params.get("max"))
            self.parameters[name] = new
            self.undo_log[directive.id] = ("value", name, old)
            return f"{name} {old:g} → {new:g}"
        if directive.type in ("enable_playbook", "disable_playbook", "enable_probe"):
            group = "probes" if directive.type == "enable_probe" else "playbooks"
            name = params["probe" if group == "probes" else "playbook"]
            listed = self.enabled[group]
            was = name in listed
            if directive.type == "disable_playbook":
                listed[:] = [n for n in listed if n != name]
            elif not was:
                listed.append(name)
            self.undo_log[directive.id] = ("member", group, name, was)
            return f"{group[:-1]} {name} {'disabled' if directive.type == 'disable_playbook' else 'enabled'}"
        self.requests.append(directive.id)
        self.undo_log[directive.id] = ("request", directive.id)
        return f"{directive.type.replace('_', ' ')} requested"

    def undo(self, directive_id: str) -> str:
        record = self.undo_log.pop(directive_id, None)
        if record is None:
            raise UsageError(f"directive {directive_id} was not applied here: nothing to undo")
        if record[0] == "offset":
            self.offsets[record[1]] = record[2]
            return f"{record[1]} offset back to {record[2]:+g}"
        if record[0] == "value":
            self.parameters[record[1]] = record[2]
            return f"{record[1]} back to {record[2]:g}"
        if record[0] == "member":
            _, group, name, was = record
            listed = self.enabled[group]
            listed[:] = [n for n in listed if n != name] + ([name] if was else [])
            return f"{group[:-1]} {name} {'enabled' if was else 'disabled'} again"
        self.requests = [r for r in self.requests if r != record[1]]
        return f"request {record[1]} withdrawn"

    def to_json(self) -> dict[str, Any]:
        return {
            "parameters": self.parameters,
            "offsets": self.offsets,
            "enabled": self.enabled,
            "requests": self.requests,
            "undo": {k: list(v) for k, v in self.undo_log.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ParameterTable:
        table = cls(data.get("parameters", {}))
        table.offsets = dict(data.get("offsets", {}))
        table.enabled = {k: list(v) for k, v in data.get("enabled", table.enabled).items()}
        table.requests = list(data.get("requests", []))
        table.undo_log = {k: tuple(v) for k, v in data.get("undo", {}).items()}
        return table


def clamp(value: float, low: Any, high: Any) -> float:
    if isinstance(low, int | float):
        value = max(value, float(low))
    if isinstance(high, int | float):
        value = min(value, float(high))
    return value
