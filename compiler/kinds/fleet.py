"""Fleet documents (the fleet-rollouts issue): the clusters a rollout can reach.

A fleet lists its clusters, each a block of settings::

    fleet mesh.edge version "1" {
      cluster "eu-west-1" {
        region "eu-west"
        env "prod"                      # one of dev, test, staging, prod
        group "eu-west-a"               # the blast-radius group (default: the region)
        control_plane "1.8.2"           # semver of the cluster's control plane
        capabilities ["wasm", "ratelimit"]
        slo { availability: 99.9, p95_ms: 250 }
        owner "team-eu"
        labels { canary: "true" }
      }
    }

`resolve` checks every setting at its position (unknown names with did-you-mean, forms, a
version that is not semver, an env outside `ENVS` — a typo such as "production" must not slip a
prod cluster past the prod rules) and unique cluster ids; `lower` writes the fleet's IR, which
`ballast.runtime.fleet.Fleet` reads. Rollouts select from the resolved fleet
(`ballast.compiler.kinds.rollout`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ballast.compiler.kinds import NotSupportedYet
from ballast.compiler.kinds.data import DataKind, document_header
from ballast.compiler.settings import SettingSpec, head, read_settings, string_of, words_of
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.fleet import ENVS, FLEET_FORMAT, Fleet
from ballast.runtime.suggest import did_you_mean

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IR = dict[str, Any]

SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
CLUSTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

CLUSTER_SETTINGS = {
    "region": SettingSpec(("string",), '"eu-west"'),
    "env": SettingSpec(("string",), '"prod"'),
    "group": SettingSpec(("string",), '"eu-west-a"'),
    "control_plane": SettingSpec(("string",), '"1.8.2"'),
    "capabilities": SettingSpec(("list",), '["wasm", "ratelimit"]'),
    "slo": SettingSpec(("map",), "{ availability: 99.9, p95_ms: 250 }"),
}


@dataclass
class FleetModel:
    """A resolved fleet: its document and its clusters as IR, in document order."""

    document: ast.Document
    clusters: list[IR] = field(default_factory=list)
    spans: dict[str, Span] = field(default_factory=dict)  # cluster id → the id as written

    def fleet(self) -> Fleet:
        return Fleet.from_ir(lower_fleet(self))


def resolve_fleet(compilation: Compilation, document: ast.Document, errors: ErrorList) -> FleetModel:
    model = FleetModel(document)
    for other in compilation.resolved.get("fleet", []):
        if other.document.name == document.name:
            errors.error(
                "duplicate",
                f"fleet '{document.name}' is given twice (also at {head(other.document)})",
                head(document),
                "fleet names must be unique in a set",
            )
    for item in document.items:
        if not isinstance(item, ast.Cluster):
            errors.error("fleet", "a fleet holds clusters", item.span, 'write `cluster "id" { region "…" env "…" }`')
            continue
        cluster = _cluster(item, errors)
        if item.id in model.spans:
            errors.error(
                "duplicate",
                f"cluster '{item.id}' is listed twice (first at {model.spans[item.id]})",
                item.id_span,
                "cluster ids are unique in a fleet",
            )
        elif cluster is not None:
            model.spans[item.id] = item.id_span
            model.clusters.append(cluster)
    if not document.of(ast.Cluster):
        errors.error("missing", f"fleet '{document.name}' lists no cluster", head(document), 'add `cluster "id" { … }`')
    return model


def _cluster(item: ast.Cluster, errors: ErrorList) -> IR | None:
    ok = True
    if not CLUSTER_ID.match(item.id):
        ok = False
        errors.error(
            "name",
            f"'{item.id}' is not a cluster id",
            item.id_span,
            "letters, digits, '.', '_' and '-', at most 63 characters: it names a directory and a ledger key",
        )
    settings = read_settings(item.settings, CLUSTER_SETTINGS, f"cluster '{item.id}'", errors)
    for required in ("region", "env"):
        if required not in settings:
            ok = False
            errors.error(
                "missing",
                f"cluster '{item.id}' has no {required}",
                item.id_span,
                f"add `{required} {CLUSTER_SETTINGS[required].example}`",
            )
    env = string_of(settings, "env")
    if "env" in settings and env not in ENVS:
        ok = False
        errors.error(
            "env",
            f"cluster '{item.id}' has env '{env}': envs are {', '.join(ENVS)}",
            settings["env"].value_span,
            did_you_mean(env, ENVS)
            or next((f"did you mean '{e}'?" for e in ENVS if env.startswith(e)), "")
            or "the prod rules of rollouts read this name: spell it exactly",
        )
    version = string_of(settings, "control_plane")
    if version and not SEMVER.match(version):
        errors.error(
            "version",
            f"control plane version '{version}' is not semver",
            settings["control_plane"].value_span,
            'write MAJOR.MINOR.PATCH, e.g. "1.8.2"',
        )
    slo: dict[str, float] = {}
    for pair in settings["slo"].value if "slo" in settings else ():
        try:
            slo[pair.key] = float(pair.value)
        except ValueError:
            errors.error("type", f"SLO target '{pair.key}' is not a number", pair.span, "write `p95_ms: 250`")
    if not ok:
        return None
    return {
        "id": item.id,
        "region": string_of(settings, "region"),
        "env": env,
        "group": string_of(settings, "group") or string_of(settings, "region"),
        "control_plane": version,
        "owner": item.owner,
        "capabilities": list(words_of(settings, "capabilities")),
        "labels": {label.key: label.value for label in item.labels},
        "slo": slo,
        "at": at(item.span),
    }


def lower_fleet(model: FleetModel) -> IR:
    document = model.document
    return {
        **document_header(document, FLEET_FORMAT, "fleet"),
        "clusters": model.clusters,
    }


class FleetKind(DataKind):
    """A `fleet` document: the clusters rollouts select from."""

    name = "fleet"
    keywords = ("fleet",)
    ir_key = "fleets"

    resolve_document = staticmethod(resolve_fleet)

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        return [lower_fleet(model) for model in compilation.resolved.get(self.name, [])]

    def manifest(self, entry: IR) -> IR:
        return {"name": entry["name"], "version": entry["version"], "clusters": len(entry["clusters"])}

    def load(self, entry: IR) -> Any:
        return Fleet.from_ir(entry)

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        # Imported here: only `ballast diff` pays for the detectors (and the solver).
        from ballast.compiler.diff.fleet import FleetDiff

        return FleetDiff(old, new).run()

    def explain(self, entry: IR) -> list[str]:
        raise NotSupportedYet(f"explaining fleet '{entry['name']}' is not supported yet: it has no rules")


KIND = FleetKind()
