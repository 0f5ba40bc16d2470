"""The YAML front-end: the YAML form of a policy document, read into the same AST as `.bal`.

Every `.bal` construct has one YAML spelling; expressions, types and action calls stay strings in
the `.bal` syntax, parsed by the same grammar, so the two forms compile to the same IR. The file
is validated against `policy.schema.json` (JSON Schema 2020-12, usable by editors too) and every
problem of the file is reported at once, each at the `line:col` of the offending node.

Keys
----
A document is a mapping. Its top-level keys become declarations in the order they are written::

    policy: motb.orchestration      # or `module: motb.thresholds` (importable, no version)
    version: "1.2.0"                # policies only; a string, so quote it
    owner: sre-core
    description: ...
    labels: {tier: platform}        # name → string
    imports: [lib/thresholds.bal]   # paths relative to this file, `.bal` or `.yaml` modules
    input:
      telemetry:                    # the input's name → its fields
        load: float in [0, 1]       # field → type string (the `.bal` type syntax)
        canary?: bool               # a trailing `?` on the key marks the field optional
        resources: {cpu: float}     # a mapping is a nested record type
    types:
      Percent: float in [0, 100]    # name → type string or mapping (record)
    const:
      load_limit: 0.8               # name → value (see "Values" below)
      floor: {type: float, value: 1}  # a typed constant: `const floor: float = 1`
    let:
      overloaded: load > load_limit # name → condition (an expression string)
    actions:
      notify:                       # name → its parameters, in order
        targets: selector           # parameter → type string (or a mapping: record type)
        severity: int = 1           # "type = default"
        note?: string               # optional parameter
    rules:                          # a list; each rule is a mapping
      - name: downgrade_on_load     # required
        description: ...
        when: overloaded            # required: a condition
        then: "downgrade(targets: pool, level: 1)"   # required: one call, or a list of calls
        priority: 100               # an integer
        impact: low                 # minimal | low | moderate | high | critical
        reason: "load {load:.2f}"   # the reason template, as in `.bal`
        justification: CHG-1234     # why a loosened guard is safe, for reviewers (a string)
        labels: {seed: MOTB}

Values
------
Wherever an expression is expected (`const` values, list items, `let`, `when`): a YAML string is
expression source (so durations `5m`, names and operators work as in `.bal`, and a string
constant keeps its inner quotes: `'"standby"'`); YAML numbers, booleans and null are those
literals; a YAML list is a list literal whose items follow the same rule — so `["a", "b"]` in
YAML is a list of the *names* a and b, and the strings are written `['"a"', '"b"']`.

YAML rules worth knowing: a plain (unquoted) value cannot contain ``": "`` or ``" #"`` and cannot
start with ``[ { " ' ! & * | > % @ ` ``; action calls (`scale(targets: pool)`), ternaries and most
reason templates therefore need quotes; in a flow collection (`{a: ...}` / `[...]`) a plain value
also cannot contain `,` — quote `enum("a", "b")` there.

Modules
-------
This module is the entry point; each step of reading a file is a module of its own:

- `yaml_file`: loading with ruamel.yaml (whose exceptions are translated there and only there);
- `yaml_reader`: the positioned reader every YAML document kind uses (scenarios and test files
  too): the loaded document as `Node`s, the span of each key and value, the problems found;
- `yaml_positions`: line/col ↔ index ↔ span, and the map from a string value's characters to the
  file, so an expression's spans point into the YAML (see its docstring for the rules);
- `yaml_schema`: validation against `policy.schema.json` (jsonschema is translated there), each
  error at the `line:col` of its node;
- `yaml_policy`, `yaml_rules`, `yaml_values`: the AST of the document, of its rules with their
  time clauses, and of the values inside them, read from the validated document's `Node`s;
- `yaml_governance`: governance documents (`governance:` as the first key);
- `yaml_scoring`: scoring documents (`scoring:` as the first key);
- `yaml_profile`: profile documents (`profile:` as the first key);
- `yaml_supervisor`: supervisor documents (`supervisor:` as the first key).
- `yaml_fleet`: fleet and rollout documents (`fleet:` / `rollout:` as the first key), whose
  settings the fleet and rollout kinds check as they check the `.bal` form.

A document with a `safety:` key is a safety catalog, read by `yaml_safety` (its own keys,
checked with the positioned reader rather than the policy schema).

No third-party exception leaves the front-end: it raises `SyntaxProblem` carrying every diagnostic.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.parser import SyntaxProblem
from ballast.dsl.yaml_fleet import fleet_kind_of, read_fleet_document
from ballast.dsl.yaml_governance import is_governance, read_governance
from ballast.dsl.yaml_policy import read_document
from ballast.dsl.yaml_profile import is_profile, read_profile
from ballast.dsl.yaml_reader import YamlReader
from ballast.dsl.yaml_safety import read_safety
from ballast.dsl.yaml_schema import policy_schema, validate_document
from ballast.dsl.yaml_scoring import is_scoring, read_scoring
from ballast.dsl.yaml_supervisor import is_supervisor, read_supervisor
from ballast.runtime.errors import sort_diagnostics

__all__ = ["parse_yaml_document", "policy_schema"]


def parse_yaml_document(text: str, file: str) -> ast.Document:
    """Parse the YAML form of a document; raises SyntaxProblem with every problem of the file."""
    reader = YamlReader(text, file, code="yaml")
    if not reader.loaded:  # not YAML: why, and the repeated keys found before it
        raise SyntaxProblem(*reader.problems)
    root = reader.root()
    if is_governance(root) or is_scoring(root) or is_profile(root) or is_supervisor(root):
        # their readers check the keys; their kinds, the settings
        if is_governance(root):
            document = read_governance(root)
        elif is_scoring(root):
            document = read_scoring(root)
        elif is_profile(root):
            document = read_profile(root)
        else:
            document = read_supervisor(root)
        if reader.problems:
            raise SyntaxProblem(*sort_diagnostics(reader.problems))
        return document
    fleet_kind = fleet_kind_of(root)
    if fleet_kind is not None or (root.is_mapping and "safety" in root):
        # safety catalogs (yaml_safety), fleets and rollouts (yaml_fleet): their readers check the keys
        document = read_fleet_document(root, fleet_kind) if fleet_kind is not None else read_safety(root)
        if reader.problems:
            raise SyntaxProblem(*sort_diagnostics(reader.problems))
        return document
    validate_document(root)
    document = read_document(root)
    if reader.problems or document is None:
        if not reader.problems:  # validation should have said why; never fail silently
            reader.report("this is not a policy document", reader.source.span(0, 1))
        raise SyntaxProblem(*sort_diagnostics(reader.problems))
    return document
