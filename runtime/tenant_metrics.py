"""The metrics source `ballast score` reads: per-tenant metric documents with timestamps.

A **metric document** is one JSON object::

    {"tenant": "acme", "time": "2026-11-30T00:00:00Z",
     "metrics": {"training.completion_ratio": 0.92, "incidents.sev12_last_90d": 1}}

`tenant` is an id (letters, digits, `.`, `_`, `-`; it names the tenant's report files), `time`
when the metrics were observed (RFC 3339 or epoch seconds), `metrics` a mapping from metric name
to a number. A source is a `.jsonl` file (one document per line; blank lines and lines starting
with `#` are skipped), a `.json` file (one document or a list of them), or a directory: every
`.json` and `.jsonl` file directly in it, by name. A tenant's documents may be spread over files
and times; for each metric the latest observation at or before `now` counts, so metrics
refreshed at different cadences combine. The same metric observed twice at the same time with
two values is an error, as is anything malformed: the message names the file, the line (or the
list index) and what to write instead.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.scoring import Observation
from ballast.runtime.values import describe, parse_timestamp

TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
DOCUMENT_KEYS = ("tenant", "time", "metrics")
# A metrics file larger than this is refused rather than read into memory (docs/scoring.md).
MAX_FILE_BYTES = 64 * 1024 * 1024
SUFFIXES = (".json", ".jsonl")
EXAMPLE = '{"tenant": "acme", "time": "2026-11-30T00:00:00Z", "metrics": {"training.completion_ratio": 0.92}}'


class TenantMetrics:
    """Every observation of every tenant's metrics, by tenant, metric and time."""

    def __init__(self) -> None:
        self._series: dict[str, dict[str, dict[float, Observation]]] = {}

    @property
    def tenants(self) -> list[str]:
        """The tenant ids, sorted."""
        return sorted(self._series)

    def add(self, tenant: str, metric: str, observation: Observation) -> None:
        """Record one observation; two values for one metric at one time are a UsageError."""
        series = self._series.setdefault(tenant, {}).setdefault(metric, {})
        seen = series.get(observation.time)
        if seen is not None and seen.value != observation.value:
            raise UsageError(
                f"{observation.source}: tenant '{tenant}' metric '{metric}' is {observation.value:g} at a time "
                f"where {seen.source} says {seen.value:g}: keep one of them"
            )
        if seen is None:
            series[observation.time] = observation

    def latest(self, tenant: str, now: float) -> dict[str, Observation]:
        """Each of the tenant's metrics at its latest observation at or before `now`."""
        out = {}
        for metric, series in sorted(self._series.get(tenant, {}).items()):
            known = [t for t in series if t <= now]
            if known:
                out[metric] = series[max(known)]
        return out


def read_tenant_metrics(path: str | Path) -> TenantMetrics:
    """The metrics source at `path` (a file or a directory); UsageError for anything malformed."""
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        if not files:
            raise UsageError(f"{root}: no metrics files (*.json, *.jsonl) in this directory")
    elif root.is_file():
        files = [root]
    else:
        raise UsageError(
            f"{root}: no such file or directory (the tenants' metrics: a .json or .jsonl file, or a directory of them)"
        )
    metrics = TenantMetrics()
    for file in files:
        for where, document in _documents(file):
            _read_document(metrics, where, document)
    if not metrics.tenants:
        raise UsageError(f"{root}: no metric documents: write one per line, such as {EXAMPLE}")
    return metrics


def _documents(file: Path) -> Iterator[tuple[str, Any]]:
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(
                f"{file}: {size} bytes is more than the {MAX_FILE_BYTES} a metrics file may hold: split it into a directory of files"
            )
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{file}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{file}: not UTF-8 text (metrics files are JSON)") from None
    if file.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                yield f"{file}:{number}", _json(line, f"{file}:{number}")
        return
    value = _json(text, str(file))
    if isinstance(value, list):
        for index, document in enumerate(value):
            yield f"{file}[{index}]", document
    else:
        yield str(file), value


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not JSON ({exc.msg} at column {exc.colno}); write {EXAMPLE}") from None
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None
    except RecursionError:
        raise UsageError(f"{where}: nested too deeply to be a metric document") from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows; write a finite number")


def _read_document(metrics: TenantMetrics, where: str, document: Any) -> None:
    if not isinstance(document, dict):
        raise UsageError(f"{where}: a metric document is a JSON object, got {describe(document)}; write {EXAMPLE}")
    unknown = sorted(set(document) - set(DOCUMENT_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key '{unknown[0]}': a metric document has {', '.join(DOCUMENT_KEYS)}")
    for key in DOCUMENT_KEYS:
        if key not in document:
            raise UsageError(f"{where}: no '{key}'; write {EXAMPLE}")
    tenant = document["tenant"]
    if not isinstance(tenant, str) or not TENANT_ID.fullmatch(tenant):
        raise UsageError(
            f"{where}: 'tenant' is {describe(tenant)}: a tenant id is letters, digits, '.', '_' and '-' "
            "(at most 128, starting with a letter or digit)"
        )
    time = parse_timestamp(document["time"])
    if time is None:
        raise UsageError(
            f"{where}: 'time' is {describe(document['time'])}: write 2026-11-30T00:00:00Z or epoch seconds"
        )
    values = document["metrics"]
    if not isinstance(values, Mapping):
        raise UsageError(f"{where}: 'metrics' is {describe(values)}: write a mapping of metric names to numbers")
    for metric, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise UsageError(
                f"{where}: metric '{metric}' of tenant '{tenant}' is {describe(value)}: a metric is a number"
            )
        metrics.add(tenant, metric, Observation(float(value), time, where))


__all__ = ["MAX_FILE_BYTES", "TENANT_ID", "TenantMetrics", "read_tenant_metrics"]
