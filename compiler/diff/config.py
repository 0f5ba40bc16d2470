"""The `config` document type: JSON or YAML configuration checked by a JSON Schema (`--schema`).

Configuration files (service settings, feature-flag manifests) are plain data: what a change to
one means depends on what its schema says of each key. Both versions are validated against the
schema first; a file that does not validate is an error at the offending value's line and column
(with its JSON path, `$.rollout.percent`), and the diff exits 2. Then the two values are walked
alongside the schema:

- a key is compared by its **effective** value: a key left out where the schema gives a
  `default` has that default, so writing the default out, or dropping it, changes nothing; a
  key left out with no default is *absent*: removing one is breaking (its readers now get
  nothing, and the schema does not say what they do then), adding one is behavioral;
- a value that changes type (a schema allowing both) is breaking: its readers must handle the
  new type; a boolean that changes is a flag enabled or disabled; any other value changed is
  behavioral, numbers saying up or down;
- a list whose items are objects that all carry a unique `id` (or else `name`) is compared item
  by item under that identity: an item removed is breaking (readers that look it up find
  nothing), added or reordered behavioral; any other list is compared as a whole.

Messages name a key by its path (`rollout.percent`, `flags[name=new-checkout].enabled`) and the
schema's `title` where it has one. The schema is read with local `$ref`s, `allOf` merged, and
under `anyOf`/`oneOf` the branch whose type and properties fit the value.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ballast.compiler.diff.documents import Document, Options, locate
from ballast.compiler.diff.findings import Finding, Position
from ballast.runtime.errors import CompileError, Diagnostic, UsageError

MISSING: Any = object()  # a key that is absent and has no default
IDENTITIES = ("id", "name")  # the keys that identify the items of a list, in order of preference
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
SHOWN = 60  # characters of a value shown in a message


def config_type(options: Options) -> ConfigType | None:
    """The `config` type of a run: None without `--schema`."""
    if options.schema is None:
        if options.configs:
            raise UsageError("--config GLOB names configuration files to check against --schema FILE: give --schema")
        return None
    return ConfigType(options.schema, read_schema(options.schema), options.configs)


def read_schema(path: str) -> Any:
    """A JSON Schema from a JSON or YAML file; UsageError when it cannot be read or is not one."""
    import jsonschema
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from ballast.runtime.reading import UnreadableInput, read_text

    try:
        text = read_text(path, "the schema")
    except UnreadableInput as exc:
        raise UsageError(f"--schema: {exc}") from None
    try:
        schema = json.loads(text) if path.endswith(".json") else YAML(typ="safe", pure=True).load(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: the schema is not JSON: {exc.msg}") from None
    except YAMLError as exc:
        raise UsageError(f"{path}: the schema is not YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(schema, dict | bool):
        raise UsageError(f"{path}: a JSON Schema is an object (or true/false)")
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise UsageError(
            f"{path}: not a valid JSON Schema: {exc.message} at {json_path(list(exc.absolute_path))}"
        ) from None
    return schema


@dataclass
class Config:
    """A configuration file as read: ruamel's tree (for positions) and its plain JSON value."""

    tree: Any
    value: Any


class ConfigType:
    """JSON/YAML configuration under one JSON Schema."""

    name = "config"
    what = "configuration files (--config GLOB)"
    keyed_by_path = True

    def __init__(self, schema_file: str, schema: Any, globs: tuple[str, ...]) -> None:
        import jsonschema

        self.schema_file = schema_file
        self.schema = schema
        self.globs = globs
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        self.validator = cls(schema)

    def claims(self, path: str, *, single: bool) -> bool:
        """A file side is configuration (a `.bal` never is); a folder's files are when a
        `--config` glob matches their path under the folder."""
        if single:
            return not path.endswith(".bal")
        return any(fnmatchcase(path, g) for g in self.globs)

    def in_folder(self) -> str | None:
        if self.globs:
            return None
        return "with --schema, a folder side needs --config GLOB to say which of its files are configuration"

    def load(self, text: str, file: str, path: str) -> Document:
        from ballast.dsl.yaml_reader import YamlReader

        reader = YamlReader(text, file, code="config")
        reader.raise_if_problems()  # not YAML (nor JSON), or a key given twice
        value = plain(reader.data)
        problems = []
        errors = sorted(self.validator.iter_errors(value), key=lambda e: (_sort_key(e.absolute_path), e.message))
        for error in errors:
            steps = list(error.absolute_path)
            extra = _unexpected(error)
            span = _span(reader, [*steps, extra], key=True) if extra is not None else _span(reader, steps)
            about = error.schema if isinstance(error.schema, dict) else {}
            note = about.get("description") or about.get("title")
            pointer = "/".join(str(p) for p in error.relative_schema_path)
            hint = f"{note} (schema {self.schema_file}#/{pointer})" if note else f"schema {self.schema_file}#/{pointer}"
            problems.append(
                Diagnostic(
                    "error",
                    "config",
                    f"{error.message} at {json_path(steps)}",
                    span,
                    hint,
                    reader.source_line(span),
                )
            )
        if problems:
            raise CompileError(problems)
        at = locate(file, reader.data, [])  # where the content starts, past leading comments
        return Document("config", path, file, (at.line, at.column), Config(reader.data, value), path)

    def removed(self, old: Document) -> Finding:
        return Finding(
            "config-removed",
            "config",
            old.key,
            "",
            f"configuration file '{old.key}' was removed: its readers find nothing",
            base=old.position,
        )

    def added(self, new: Document) -> Finding:
        return Finding(
            "config-added", "config", new.key, "", f"configuration file '{new.key}' was added", head=new.position
        )

    def diff(self, old: Document, new: Document) -> list[Finding]:
        return ConfigDiff(self, old, new).run()


class ConfigDiff:
    """The findings between two versions of one configuration file, walking the schema."""

    def __init__(self, ctype: ConfigType, old: Document, new: Document) -> None:
        self.ctype = ctype
        self.old, self.new = old, new
        self.name = new.key
        self.findings: list[Finding] = []

    def run(self) -> list[Finding]:
        self.value(self.ctype.schema, self.old.data.value, self.new.data.value, [], [], "")
        return self.findings

    # ---- findings ----
    def add(
        self, check: str, subject: str, message: str, sa: list[Any] | None, sb: list[Any] | None, **details: Any
    ) -> None:
        self.findings.append(
            Finding(
                check,
                "config",
                self.name,
                subject,
                message,
                self._where(self.old, sa),
                self._where(self.new, sb),
                details=details,
            )
        )

    @staticmethod
    def _where(doc: Document, steps: list[Any] | None) -> Position | None:
        return None if steps is None else locate(doc.file, doc.data.tree, steps)

    # ---- the walk ----
    def value(
        self, schema: Any, a: Any, b: Any, sa: list[Any], sb: list[Any], subject: str, defaulted: str = ""
    ) -> None:
        schema = self.resolve(schema, b)
        ta, tb = json_type(a), json_type(b)
        label = self.label(subject, schema)
        if ta != tb:
            self.add(
                "config-type-changed",
                subject,
                f"{label} is now {_article(tb)} (was {_article(ta)}): {shown(a)} → {shown(b)}{defaulted}",
                sa,
                sb,
                before=a,
                after=b,
            )
        elif ta == "object":
            self.object(schema, a, b, sa, sb, subject)
        elif ta == "array":
            self.array(schema, a, b, sa, sb, subject)
        elif a == b:
            return
        elif ta == "boolean":
            state = "enabled" if b else "disabled"
            self.add(
                "config-flag-toggled",
                subject,
                f"{label} {state} ({shown(a)} → {shown(b)}){defaulted}",
                sa,
                sb,
                before=a,
                after=b,
            )
        else:
            direction = ""
            if ta == "number":
                direction = " (up)" if b > a else " (down)"
            self.add(
                "config-value-changed",
                subject,
                f"{label} {shown(a)} → {shown(b)}{direction}{defaulted}",
                sa,
                sb,
                before=a,
                after=b,
            )

    def object(
        self, schema: Any, a: dict[str, Any], b: dict[str, Any], sa: list[Any], sb: list[Any], subject: str
    ) -> None:
        keys = list(a) + [k for k in b if k not in a]
        for key in keys:
            sub = self.child(schema, key)
            default = self.default(sub)
            va = a.get(key, default)
            vb = b.get(key, default)
            path = _join(subject, key)
            if va is MISSING and vb is MISSING:
                continue
            label = self.label(path, self.resolve(sub, vb if vb is not MISSING else va))
            if va is MISSING:
                self.add("config-key-added", path, f"{label} was added: {shown(vb)}", sa, [*sb, key], after=vb)
            elif vb is MISSING:
                self.add(
                    "config-key-removed",
                    path,
                    f"{label} was removed, and the schema gives it no default: its readers now get nothing (was {shown(va)})",
                    [*sa, key],
                    sb,
                    before=va,
                )
            else:
                note = ""
                if key not in b:
                    note = " (removed: the schema's default applies)"
                elif key not in a:
                    note = " (was the schema's default)"
                self.value(sub, va, vb, [*sa, key], [*sb, key], path, note)

    def array(self, schema: Any, a: list[Any], b: list[Any], sa: list[Any], sb: list[Any], subject: str) -> None:
        ident = identity(a, b)
        if ident is None:
            self.whole_list(a, b, sa, sb, subject, schema)
            return
        before = {item[ident]: i for i, item in enumerate(a)}
        after = {item[ident]: i for i, item in enumerate(b)}
        for k, i in before.items():
            if k not in after:
                self.add(
                    "config-item-removed",
                    f"{subject}[{ident}={k}]",
                    f"item {ident}={shown(k)} was removed from {self.label(subject, schema)}: readers that look it up find nothing",
                    [*sa, i],
                    sb,
                    before=a[i],
                )
        for k, j in after.items():
            if k not in before:
                self.add(
                    "config-item-added",
                    f"{subject}[{ident}={k}]",
                    f"item {ident}={shown(k)} was added to {self.label(subject, schema)}",
                    sa,
                    [*sb, j],
                    after=b[j],
                )
        for k, i in before.items():
            j = after.get(k)
            if j is not None:
                self.value(self.items(schema, j), a[i], b[j], [*sa, i], [*sb, j], f"{subject}[{ident}={k}]")
        order_a = [k for k in before if k in after]
        order_b = [k for k in after if k in before]
        if order_a != order_b:
            self.add(
                "config-items-reordered",
                subject,
                f"the items of {self.label(subject, schema)} are in another order: {', '.join(map(str, order_a))} → {', '.join(map(str, order_b))}",
                sa,
                sb,
                before=order_a,
                after=order_b,
            )

    def whole_list(self, a: list[Any], b: list[Any], sa: list[Any], sb: list[Any], subject: str, schema: Any) -> None:
        if a == b:
            return
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        left = [_canonical(x) for x in a]
        right = [_canonical(y) for y in b]
        removed = _minus(left, right)
        added = _minus(right, left)
        parts = []
        if removed:
            parts.append("removed " + ", ".join(_shorten(x) for x in removed))
        if added:
            parts.append("added " + ", ".join(_shorten(x) for x in added))
        if not parts:
            parts.append("the same items in another order")
        self.add(
            "config-list-changed",
            subject,
            f"{self.label(subject, schema)}: {'; '.join(parts)}",
            [*sa, first] if first < len(a) else sa,
            [*sb, first] if first < len(b) else sb,
            before=a,
            after=b,
        )

    # ---- the schema ----
    def label(self, subject: str, schema: Any) -> str:
        title = schema.get("title") if isinstance(schema, dict) else None
        name = f"'{subject}'" if subject else "the document"
        return f"{name} ({title})" if isinstance(title, str) and title else name

    def resolve(self, schema: Any, value: Any) -> dict[str, Any]:
        """The schema at a point, `$ref`s followed, `allOf` merged, the `anyOf`/`oneOf` branch
        that fits `value` taken."""
        for _ in range(32):  # a $ref cycle ends somewhere
            if not isinstance(schema, dict):
                return {}
            if "$ref" in schema:
                target = self.ref(schema["$ref"])
                schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
                continue
            if "allOf" in schema:
                merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
                for branch in schema["allOf"]:
                    part = self.resolve(branch, value)
                    props = {**part.get("properties", {}), **merged.get("properties", {})}
                    merged = {**part, **merged}
                    if props:
                        merged["properties"] = props
                schema = merged
                continue
            for combinator in ("oneOf", "anyOf"):
                if combinator in schema:
                    branch = self.fitting(schema[combinator], value)
                    rest = {k: v for k, v in schema.items() if k != combinator}
                    schema = {**self.resolve(branch, value), **rest}
                    break
            else:
                return schema
        return schema if isinstance(schema, dict) else {}

    def fitting(self, branches: list[Any], value: Any) -> Any:
        def score(branch: Any) -> int:
            s = self.resolve(branch, value)
            types = s.get("type")
            types = [types] if isinstance(types, str) else types or []
            kind = json_type(value)
            fits = kind in types or (kind == "number" and "integer" in types and float(value).is_integer())
            keys = len(set(value) & set(s.get("properties", {}))) if isinstance(value, dict) else 0
            return 2 * fits + keys

        scores = [score(b) for b in branches]
        return branches[scores.index(max(scores))] if branches else {}

    def ref(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return {}  # a remote $ref: not followed
        node: Any = self.ctype.schema
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return {}
        return node

    def child(self, schema: Any, key: str) -> Any:
        if not isinstance(schema, dict):
            return {}
        properties = schema.get("properties", {})
        if key in properties:
            return properties[key]
        for pattern, sub in schema.get("patternProperties", {}).items():
            if re.search(pattern, key):
                return sub
        extra = schema.get("additionalProperties")
        return extra if isinstance(extra, dict) else {}

    def items(self, schema: Any, index: int) -> Any:
        if not isinstance(schema, dict):
            return {}
        prefix = schema.get("prefixItems", [])
        if index < len(prefix):
            return prefix[index]
        items = schema.get("items")
        return items if isinstance(items, dict) else {}

    def default(self, schema: Any) -> Any:
        resolved = self.resolve(schema, None)
        return copy.deepcopy(resolved["default"]) if "default" in resolved else MISSING


# ---- values ----


def plain(node: Any) -> Any:
    """ruamel's round-trip tree as plain JSON data (dates as their ISO text, keys as strings)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node if node is None else bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if hasattr(node, "isoformat"):
        return node.isoformat()
    return str(node)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def identity(a: list[Any], b: list[Any]) -> str | None:
    """The key that identifies the items of both lists: every item an object with a unique
    string or integer value for it."""
    items = a + b
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in IDENTITIES:
        if all(isinstance(i.get(key), str | int) and not isinstance(i.get(key), bool) for i in items) and all(
            len({i[key] for i in side}) == len(side) for side in (a, b)
        ):
            return key
    return None


def shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else repr(value)
    return _shorten(text)


def _shorten(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _article(kind: str) -> str:
    return {"array": "a list", "object": "an object", "null": "null"}.get(kind, f"a {kind}")


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else repr(value)


def _minus(a: list[str], b: list[str]) -> list[str]:
    rest = list(b)
    out = []
    for x in a:
        if x in rest:
            rest.remove(x)
        else:
            out.append(x)
    return out


def _join(subject: str, key: str) -> str:
    """A key's path: `rollout.percent`, or `labels["team/owner"]` for a key that is not a name."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{subject}.{key}" if subject else key
    return f"{subject}[{json.dumps(key, ensure_ascii=False)}]"


def json_path(steps: list[Any]) -> str:
    """`$.rollout.percent`, `$.flags[2].name`: where a value is, as validation errors say it."""
    out = "$"
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN_KEY.fullmatch(str(step)):
            out += f".{step}"
        else:
            out += f"[{json.dumps(str(step), ensure_ascii=False)}]"
    return out


def _sort_key(path: Any) -> list[tuple[int, str]]:
    return [(0, f"{p:09d}") if isinstance(p, int) else (1, str(p)) for p in path]


def _unexpected(error: Any) -> str | None:
    """The first key an `additionalProperties: false` refuses: the error is about the object,
    the key is where the reader should look."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return None
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return next((k for k in error.instance if k not in known and not any(re.search(p, k) for p in patterns)), None)


def _span(reader: Any, steps: list[Any], *, key: bool = False) -> Any:
    """The span of the value at `steps` in the file (the document's start for the root); with
    `key`, of the last step's key."""
    node = reader.data
    if not steps:
        return reader.start_span(node)
    for step in steps[:-1]:
        raw = _raw_key(node, step)
        if raw is MISSING:
            return reader.start_span(node)
        node = node[raw]
    last = _raw_key(node, steps[-1])
    return reader.span(node, last, key=key) if last is not MISSING else reader.start_span(node)


def _raw_key(node: Any, step: Any) -> Any:
    if isinstance(node, dict):
        if step in node:
            return step
        return next((k for k in node if str(k) == str(step)), MISSING)
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        return step
    return MISSING


__all__ = ["ConfigType", "config_type", "json_path", "plain", "read_schema"]
