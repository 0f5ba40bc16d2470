"""The YAML form of a safety catalog, read into the same AST as its `.bal` form.

    safety: safety.workflows
    version: "1.0.0"
    owner: risk-office
    description: ...
    input:
      action: {actor: string, operation: string, volume: int}
    const: {mass_delete_rows: 1000}
    let: {big: volume >= mass_delete_rows}
    approvals: {expire_after: 1h}
    classes:
      - name: mass_delete
        description: ...
        when: operation == "delete" and big
        risk: high
        require: [dual_control, justification, {hold: 10m}, {approvers: {role: dba, count: 2}}]
        enforce: soft                 # advisory | soft | hard
        mode: warn                    # dryrun | warn | deny
        reason: "{actor} deletes {volume} records"
        justification: CHG-1234

`input`, `types`, `const` and `let` read as in a policy's YAML form (`ballast.dsl.yaml_policy`);
conditions are `.bal` expressions whose spans point into the YAML file. The structure is checked
here with the positioned reader (unknown keys with a suggestion, values of the wrong kind);
the values (risk levels, modes, holds against the approvals' expiry) by the safety kind, for both
forms alike.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.yaml_policy import read_declarations
from ballast.dsl.yaml_reader import Node, Skip
from ballast.dsl.yaml_values import expression, labels, string_value, text_of
from ballast.runtime.suggest import did_you_mean
from ballast.runtime.values import parse_duration

TOP_KEYS = (
    "safety",
    "version",
    "owner",
    "description",
    "labels",
    "input",
    "types",
    "const",
    "let",
    "approvals",
    "classes",
)
CLASS_KEYS = ("name", "description", "when", "risk", "require", "enforce", "mode", "reason", "justification")
SIMPLE_CONTROLS = ("dual_control", "justification", "block")


def read_safety(root: Node) -> ast.Document:
    """The safety document at `root` (a mapping with a `safety:` key); problems go to its reader."""
    root.keys(TOP_KEYS, "a safety catalog")
    name = root.attempt(lambda: root.string("safety"), "")
    version = string_value(root, "version") if root.has("version", str) else None
    if version is None:
        root.attempt(lambda: root.string("version"), "")  # missing, or not a string: reported
    items: list[ast.Item] = read_declarations(root, ("input", "types", "const", "let"))
    if "approvals" in root:
        approvals = root.attempt(lambda: _approvals(root), None)
        if approvals is not None:
            items.append(approvals)
    if "classes" in root:
        classes = root.attempt(lambda: root.sequence("classes", "a list of classes"), None)
        if classes is not None:
            items.extend(c for c in classes.each(lambda node, i: _class(node.mapping(i, "a class"))) if c is not None)
    return ast.Document(
        kind="safety",
        name=name,
        span=root.value_span("safety") if "safety" in root else root.start_span(),
        file=root.reader.file,
        version=version,
        owner=text_of(root, "owner"),
        description=text_of(root, "description"),
        labels=labels(root, "labels"),
        items=tuple(items),
    )


def _duration(node: Node, key: object) -> ast.Duration:
    text = node.string(key)
    seconds = parse_duration(text)
    if seconds is None:
        node.error(key, f"'{text}' is not a duration", "write 30s, 10m, 1h…")
        raise Skip
    return ast.Duration(seconds, text, node.value_span(key))


def _approvals(root: Node) -> ast.Approvals:
    approvals = root.mapping("approvals", "a mapping")
    approvals.keys(("expire_after",), "approvals")
    return ast.Approvals(_duration(approvals, "expire_after"), root.key_span("approvals"))


def _class(node: Node) -> ast.SafetyClass:
    node.keys(CLASS_KEYS, "a class")
    name = node.string("name")

    def optional_string(key: str) -> tuple[str, object]:
        if key not in node:
            return "", None
        return node.attempt(lambda: (node.string(key), node.value_span(key)), ("", None))

    risk, risk_span = optional_string("risk")
    enforce, enforce_span = optional_string("enforce")
    mode, mode_span = optional_string("mode")
    when = node.attempt(lambda: expression(node, "when"), None) if "when" in node else None
    controls: list[ast.Control] = []
    if "require" in node:
        required = node.attempt(lambda: node.sequence("require", "a list of controls"), None)
        if required is not None:
            controls = [c for c in required.each(_control) if c is not None]
    reason = string_value(node, "reason") if node.has("reason", str) else None
    justification = string_value(node, "justification") if node.has("justification", str) else None
    return ast.SafetyClass(
        name=name,
        span=node.start_span(),
        name_span=node.value_span("name"),
        when=when,
        risk=risk,
        risk_span=risk_span,  # type: ignore[arg-type]
        controls=tuple(controls),
        enforce=enforce,
        enforce_span=enforce_span,  # type: ignore[arg-type]
        mode=mode,
        mode_span=mode_span,  # type: ignore[arg-type]
        reason=reason,
        description=text_of(node, "description"),
        justification=justification.value if justification else "",
        justification_span=justification.span if justification else None,
    )


def _control(node: Node, i: int) -> ast.Control:
    """`dual_control`, `justification`, `block`, `{hold: 10m}` or `{approvers: {role: R, count: N}}`."""
    span = node.value_span(i)
    if node.has(i, str):
        kind = node[i]
        if kind not in SIMPLE_CONTROLS:
            hint = did_you_mean(kind, [*SIMPLE_CONTROLS, "hold", "approvers"]) or (
                "write dual_control, justification, block, {hold: 10m} or {approvers: {role: dba, count: 2}}"
            )
            node.error(i, f"unknown control '{kind}'", hint)
            raise Skip
        return ast.Control(kind, span)
    control = node.mapping(i, "a control")
    control.keys(("hold", "approvers"), "a control")
    if "hold" in control:
        return ast.Control("hold", span, hold=_duration(control, "hold"))
    approvers = control.mapping("approvers", "a mapping: {role: dba, count: 2}")
    approvers.keys(("role", "count"), "approvers")
    role = string_value(approvers, "role") if approvers.has("role", str) else None
    if role is None:
        approvers.string("role")  # reports it
    count = approvers.integer("count")
    return ast.Control("approvers", span, role=role, count=count, count_span=approvers.value_span("count"))
