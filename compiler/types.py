"""The static types of the language, their spelling, and their JSON form in the IR.

`to_json` is what the runtime's validator reads; it must stay in step with
`ballast.runtime.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRIMITIVES = ("int", "float", "string", "bool", "duration", "timestamp")


@dataclass(frozen=True, slots=True)
class Prim:
    name: str  # one of PRIMITIVES, or "null", "any", "selector"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class EnumT:
    values: tuple[str, ...]

    def __str__(self) -> str:
        return "enum(" + ", ".join(f'"{v}"' for v in self.values) + ")"


@dataclass(frozen=True, slots=True)
class ListT:
    element: Type
    # Bounds of numeric elements (`list<float in [0, 1]>`): checked on events, not part of the type.
    low: float | None = field(default=None, compare=False)
    high: float | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"list<{self.element}>"


@dataclass(frozen=True, slots=True)
class MapT:
    value: Type
    low: float | None = field(default=None, compare=False)
    high: float | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"map<string, {self.value}>"


@dataclass(frozen=True, slots=True)
class FieldT:
    name: str
    type: Type
    optional: bool = False
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class RecordT:
    fields: tuple[FieldT, ...]

    def field(self, name: str) -> FieldT | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def __str__(self) -> str:
        return "{" + ", ".join(f"{f.name}{'?' if f.optional else ''}: {f.type}" for f in self.fields) + "}"


Type = Prim | EnumT | ListT | MapT | RecordT

INT = Prim("int")
FLOAT = Prim("float")
STRING = Prim("string")
BOOL = Prim("bool")
DURATION = Prim("duration")
TIMESTAMP = Prim("timestamp")
NULL = Prim("null")
ANY = Prim("any")  # the element type of `[]`, compatible with everything
SELECTOR = Prim("selector")  # action targets: a string or a list of strings


def is_numeric(t: Type) -> bool:
    return t in (INT, FLOAT) or t == ANY


def is_stringy(t: Type) -> bool:
    return t in (STRING, ANY) or isinstance(t, EnumT)


def assignable(value: Type, target: Type) -> bool:
    """Whether a value of type `value` may stand where `target` is expected."""
    if value in (target, ANY) or target == ANY:
        return True
    if target == FLOAT and value == INT:
        return True  # ints are promoted where floats are expected
    if target == STRING and isinstance(value, EnumT):
        return True
    if isinstance(target, EnumT) and isinstance(value, EnumT):
        return set(value.values) <= set(target.values)
    if target == SELECTOR:
        return is_stringy(value) or (isinstance(value, ListT) and is_stringy(value.element))
    if isinstance(target, ListT) and isinstance(value, ListT):
        return assignable(value.element, target.element)
    if isinstance(target, MapT) and isinstance(value, MapT):
        return assignable(value.value, target.value)
    return False


def comparable(a: Type, b: Type) -> bool:
    """Whether `==` between the two can ever be true (CEL's heterogeneous numeric equality)."""
    if a == NULL or b == NULL:
        return True
    if is_numeric(a) and is_numeric(b):
        return True
    if is_stringy(a) and is_stringy(b):
        return True
    return assignable(a, b) or assignable(b, a)


def ordered(a: Type, b: Type) -> bool:
    """Whether `<` applies: numbers with numbers, strings, durations, timestamps."""
    if ANY in (a, b):
        return True  # an operand already reported as wrong: do not report the comparison too
    if is_numeric(a) and is_numeric(b):
        return True
    if is_stringy(a) and is_stringy(b):
        return True
    return a == b and a in (DURATION, TIMESTAMP)


def unify(a: Type, b: Type) -> Type | None:
    """The type of `c ? a : b` or of a list holding both; None when there is none."""
    if a == b:
        return a
    if a == ANY:
        return b
    if b == ANY:
        return a
    if is_numeric(a) and is_numeric(b):
        return FLOAT
    if is_stringy(a) and is_stringy(b):
        return STRING
    if isinstance(a, ListT) and isinstance(b, ListT):
        element = unify(a.element, b.element)
        return ListT(element) if element else None
    return None


def to_json(t: Type) -> object:
    """The IR spelling of a type, read by the runtime's event validator."""
    match t:
        case Prim(name=name):
            return name
        case EnumT(values=values):
            return {"enum": list(values)}
        case ListT(element=element):
            return _bounded({"list": to_json(element)}, t.low, t.high)
        case MapT(value=value):
            return _bounded({"map": to_json(value)}, t.low, t.high)
        case RecordT(fields=fields):
            return {"record": [field_to_json(f) for f in fields]}
    raise TypeError(t)


def _bounded(out: dict[str, object], low: float | None, high: float | None) -> dict[str, object]:
    if low is not None:
        out["min"] = low
    if high is not None:
        out["max"] = high
    return out


def field_to_json(f: FieldT) -> dict[str, object]:
    out: dict[str, object] = {"name": f.name, "type": to_json(f.type)}
    if f.optional:
        out["optional"] = True
    if f.low is not None:
        out["min"] = f.low
    if f.high is not None:
        out["max"] = f.high
    return out
