"""Bundles: reproducible bytes, a fingerprinted manifest, tampering refused, same decisions."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import ballast
from ballast.compiler.pipeline import compile_paths
from ballast.runtime.bundle import dump_bundle

REPO = Path(__file__).resolve().parents[2]
MOTB_REL = "catalog/motb.bal"
LIB_REL = "catalog/lib/thresholds.bal"
EVENTS = REPO / "catalog" / "events.jsonl"
EPOCH = 1_700_000_000
EPOCH_TEXT = "2023-11-14T22:13:20Z"


def shell(*args: object, epoch: int | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m ballast.cli …` from the repository root (so bundle paths are relative)."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    return subprocess.run(
        [sys.executable, "-m", "ballast.cli", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        env=env,
        timeout=60,
    )


def canonical_sha256(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def bundle_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The catalog compiled by the CLI with a fixed SOURCE_DATE_EPOCH."""
    path = tmp_path_factory.mktemp("bundle") / "motb.bundle.json"
    proc = shell("compile", MOTB_REL, "-o", path, epoch=EPOCH)
    assert proc.returncode == 0, proc.stderr
    return path.read_bytes()


@pytest.fixture
def bundle_path(tmp_path: Path, bundle_bytes: bytes) -> Path:
    path = tmp_path / "motb.bundle.json"
    path.write_bytes(bundle_bytes)
    return path


# ---- reproducible bytes ----


def test_cli_compiles_byte_identical_bundles_with_source_date_epoch(tmp_path: Path, bundle_bytes: bytes) -> None:
    again = tmp_path / "again.json"
    proc = shell("compile", MOTB_REL, "-o", again, epoch=EPOCH)
    assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == bundle_bytes
    manifest = json.loads(bundle_bytes)["manifest"]
    assert manifest["fingerprint"]["created_at"] == EPOCH_TEXT


def test_compile_paths_is_reproducible_and_matches_the_cli(
    monkeypatch: pytest.MonkeyPatch, bundle_bytes: bytes
) -> None:
    monkeypatch.chdir(REPO)  # the manifest names inputs as given: use the CLI's relative path
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = dump_bundle(compile_paths([MOTB_REL], source_date_epoch=EPOCH).bundle)
    second = dump_bundle(compile_paths([MOTB_REL], source_date_epoch=EPOCH).bundle)
    assert first == second
    assert first == bundle_bytes


def test_source_date_epoch_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    bundle = compile_paths([str(REPO / MOTB_REL)]).bundle
    assert bundle["manifest"]["fingerprint"]["created_at"] == EPOCH_TEXT


def test_created_at_is_the_clock_without_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = datetime.now(UTC).replace(microsecond=0)
    created = compile_paths([str(REPO / MOTB_REL)]).bundle["manifest"]["fingerprint"]["created_at"]
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)
    moment = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= moment <= after


def test_created_at_does_not_change_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(REPO / MOTB_REL)
    a = compile_paths([path], source_date_epoch=0).bundle["manifest"]
    b = compile_paths([path], source_date_epoch=EPOCH).bundle["manifest"]
    assert a["fingerprint"]["created_at"] != b["fingerprint"]["created_at"]
    assert a["fingerprint"]["hash"] == b["fingerprint"]["hash"]


# ---- the manifest ----


def test_manifest_fingerprints_the_ir_and_every_input(bundle_bytes: bytes) -> None:
    bundle = json.loads(bundle_bytes)
    manifest = bundle["manifest"]
    assert manifest["format"] == "ballast-bundle/1"
    fingerprint = manifest["fingerprint"]
    assert set(fingerprint) == {"algo", "hash", "created_at", "inputs"}
    assert fingerprint["algo"] == "sha256"
    assert fingerprint["hash"] == canonical_sha256(bundle["ir"])
    inputs = fingerprint["inputs"]
    assert [i["path"] for i in inputs] == sorted([LIB_REL, MOTB_REL])  # the imported module too
    for item in inputs:
        assert set(item) == {"path", "sha256"}
        assert item["sha256"] == hashlib.sha256((REPO / item["path"]).read_bytes()).hexdigest()
    rules = len(re.findall(r"^\s*rule \w+", (REPO / MOTB_REL).read_text(encoding="utf-8"), re.M))
    assert manifest["policies"] == [{"name": "motb.orchestration", "version": "1.2.0", "rules": rules}]


def test_bundle_bytes_are_sorted_indented_json_with_a_final_newline(bundle_bytes: bytes) -> None:
    bundle = json.loads(bundle_bytes)
    assert bundle_bytes == (json.dumps(bundle, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ---- tampering ----


def _edit(change: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    def apply(raw: bytes) -> bytes:
        bundle = json.loads(raw)
        change(bundle)
        return json.dumps(bundle, indent=2).encode("utf-8")

    return apply


def _raise_threshold(bundle: dict) -> None:
    """Set the `load_limit` constant (0.8) inlined in the IR to 0.5, leaving the manifest as is."""
    count = 0

    def walk(node: object) -> None:
        nonlocal count
        if isinstance(node, dict):
            if node.get("k") == "lit" and node.get("const") == "load_limit":
                node["v"] = 0.5
                count += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(bundle["ir"])
    assert count > 0


def _set_in(*keys: str, value: object) -> Callable[[dict], None]:
    def change(bundle: dict) -> None:
        target = bundle
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


TAMPERING: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "threshold-edited": (_edit(_raise_threshold), "fingerprint mismatch"),
    "manifest-deleted": (_edit(lambda b: b.pop("manifest")), "not a Ballast bundle"),
    "ir-deleted": (_edit(lambda b: b.pop("ir")), "not a Ballast bundle"),
    "format-changed": (_edit(_set_in("manifest", "format", value="ballast-bundle/9")), "unsupported bundle format"),
    "ir-format-changed": (_edit(_set_in("ir", "format", value="ballast-ir/9")), "unsupported IR format"),
    "hash-changed": (_edit(_set_in("manifest", "fingerprint", "hash", value="0" * 64)), "fingerprint mismatch"),
    "algo-changed": (_edit(_set_in("manifest", "fingerprint", "algo", value="md5")), "fingerprint algorithm"),
    "fingerprint-not-an-object": (_edit(_set_in("manifest", "fingerprint", value="abc")), "no fingerprint"),
    "nan-in-ir": (lambda raw: raw.replace(b'"v": 0.8', b'"v": NaN', 1), "not plain JSON"),
    "truncated": (lambda raw: raw[: len(raw) // 2], "invalid JSON"),
    "empty": (lambda raw: b"", "invalid JSON"),
    "not-json": (lambda raw: b"this is not a bundle\n", "invalid JSON"),
    "not-utf8": (lambda raw: b"\xff\xfe" + raw, "invalid JSON"),
    "a-list": (lambda raw: b"[1, 2]\n", "not a Ballast bundle"),
}


@pytest.mark.parametrize("case", TAMPERING, ids=str)
def test_tampered_bundle_is_refused_with_what_and_what_to_do(case: str, bundle_path: Path) -> None:
    tamper, what = TAMPERING[case]
    tampered = tamper(bundle_path.read_bytes())
    assert tampered != bundle_path.read_bytes()
    bundle_path.write_bytes(tampered)
    with pytest.raises(ballast.BundleError) as caught:
        ballast.load(bundle_path, allow_unsigned=True)
    message = str(caught.value)
    assert message.startswith(f"{bundle_path}: ")
    assert what in message
    assert "recompile" in message.lower()


@pytest.mark.parametrize("case", ["threshold-edited", "truncated", "fingerprint-not-an-object", "nan-in-ir"])
def test_eval_of_a_tampered_bundle_exits_2_without_traceback(case: str, bundle_path: Path) -> None:
    tamper, what = TAMPERING[case]
    bundle_path.write_bytes(tamper(bundle_path.read_bytes()))
    proc = shell("eval", bundle_path, "--events", EVENTS, "--allow-unsigned")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"ballast: {bundle_path}: ")
    assert what in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_bundle_is_a_bundle_error(tmp_path: Path) -> None:
    with pytest.raises(ballast.BundleError, match="cannot read bundle"):
        ballast.load(tmp_path / "absent.json", allow_unsigned=True)


def test_the_untouched_bundle_loads(bundle_path: Path) -> None:
    # the tampering tests start from this file: it must be fine as written
    assert ballast.load(bundle_path, allow_unsigned=True).rule_count > 0


# ---- same decisions ----


def test_loaded_bundle_decides_like_the_compiled_policy_set(bundle_path: Path) -> None:
    loaded = ballast.load(bundle_path, allow_unsigned=True)
    compiled = ballast.compile([REPO / MOTB_REL])
    fired = 0
    for line in EVENTS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        expected = compiled.evaluate(event).to_dict()
        assert loaded.evaluate(event).to_dict() == expected
        fired += len(expected["directives"])
    assert fired > 5


def test_eval_of_the_bundle_prints_what_eval_of_the_sources_prints(bundle_path: Path) -> None:
    from_bundle = shell("eval", bundle_path, "--events", EVENTS, "--allow-unsigned")
    from_sources = shell("eval", MOTB_REL, "--events", EVENTS)
    assert from_bundle.returncode == from_sources.returncode == 1  # the sample ends with two bad events
    assert from_bundle.stdout == from_sources.stdout
    assert from_bundle.stdout.count("\n") == len([x for x in EVENTS.read_text(encoding="utf-8").splitlines() if x])


def test_the_manifest_lists_threat_documents_and_a_loaded_bundle_runs_them(tmp_path: Path) -> None:
    import io

    from ballast.cli import main
    from ballast.runtime.engine import Engine

    out = tmp_path / "set.json"
    code = main(
        ["compile", str(REPO / "catalog" / "gtbe.bal"), "-o", str(out)], stdout=io.StringIO(), stderr=io.StringIO()
    )
    assert code == 0
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert bundle["manifest"]["threats"] == [{"name": "motb.gtbe", "sources": 3, "version": "1.0.0"}]
    engine = Engine(ballast.load(out, allow_unsigned=True))
    result = engine.process({"ts": 0, "trp_risk": 83.0}, input="signals")
    assert [e["type"] for e in result.events] == ["ThreatIndexUpdated"]
