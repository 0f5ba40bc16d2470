"""`ballast consume` on the command line: standard input, a NATS stream, and every bad argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bus_support import POLICY, create_stream, decided_ids, free_port, payloads, publish
from support import run_cli

LINES = "\n".join(p.decode() for p in payloads(range(1, 5))) + "\n"


def consume(bundle: Path, ledger: Path, *options: object, stdin: str = "") -> tuple[int, str, str]:
    return run_cli("consume", "--bundle", bundle, "--allow-unsigned", "--ledger", ledger, *options, stdin=stdin)


def test_standard_input_is_decided_into_the_ledger_and_a_second_run_decides_nothing_again(
    hot_bundle: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "l.sqlite"
    code, out, err = consume(hot_bundle, ledger, "--source", "-", stdin=LINES)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["event"] for r in records] == ["e1", "e2", "e3", "e4"]
    assert [d["action"] for d in records[2]["directives"]] == ["scale"] and records[0]["directives"] == []
    assert "ballast: consumed stdin: 4 fetched, 4 decided, 0 duplicates, 0 rejected, 0 gaps" in err
    code, out, err = consume(hot_bundle, ledger, "--source", "-", stdin=LINES)
    assert (code, out) == (0, "") and "0 decided, 4 duplicates" in err
    assert decided_ids(ledger) == ["e1", "e2", "e3", "e4"]


def test_a_source_without_an_event_decides_nothing_and_says_so(hot_bundle: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    for source, stdin in ((empty, ""), ("-", "\n\n")):
        code, out, err = consume(hot_bundle, tmp_path / "l.sqlite", "--source", source, stdin=stdin)
        assert (code, out) == (1, "") and "0 fetched" in err and "nothing was decided" in err, err


def test_a_rejected_payload_makes_the_exit_code_1(hot_bundle: Path, tmp_path: Path) -> None:
    code, out, err = consume(hot_bundle, tmp_path / "l.sqlite", "--source", "-", stdin=LINES + "oops\n")
    assert code == 1 and len(out.splitlines()) == 4 and "1 rejected" in err


def test_a_nats_stream_is_consumed_until_idle(
    nats_url: str, stream_name: str, hot_bundle: Path, tmp_path: Path
) -> None:
    subject = f"{stream_name}.events"
    create_stream(nats_url, stream_name, subject)
    publish(nats_url, subject, payloads(range(1, 5)))
    nats = (
        "--source",
        nats_url,
        "--stream",
        stream_name,
        "--subject",
        subject,
        "--durable",
        "cli",
        "--idle-exit",
        "0.5",
    )
    code, out, err = consume(hot_bundle, tmp_path / "l.sqlite", *nats)
    assert code == 0, err
    assert [json.loads(line)["where"] for line in out.splitlines()] == [
        f"{nats_url}/{stream_name} sequence {i}" for i in range(1, 5)
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--source", "nats://127.0.0.1:4222"), "needs --stream, --subject, --durable"),
        (("--source", "kafka://127.0.0.1:9092", "--subject", "t"), "needs --subject TOPIC and --durable GROUP"),
        (("--source", "http://127.0.0.1/"), "the sources are nats://HOST:PORT, kafka://HOST:PORT, '-'"),
        (("--source", "missing.jsonl"), "--source missing.jsonl: cannot read it: No such file or directory"),
        (("--source", "-", "--input", "nope"), "--input nope: no policy reads that input; inputs are sample"),
        (("--source", "-", "--batch", "0"), "argument --batch: must be at least 1"),
        (("--source", "-", "--idle-exit", "-1"), "expected a positive number of seconds, got '-1'"),
    ],
)
def test_bad_arguments_are_named_with_the_fix(
    hot_bundle: Path, tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    code, out, err = consume(hot_bundle, tmp_path / "l.sqlite", *options)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_an_unreachable_server_is_an_error_naming_it(hot_bundle: Path, tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    code, _, err = consume(
        hot_bundle, tmp_path / "l.sqlite", "--source", url, "--stream", "S", "--subject", "s", "--durable", "d"
    )
    assert code == 2 and f"{url}: cannot connect to the server: " in err and "Traceback" not in err


def test_a_missing_stream_is_an_error_saying_how_to_create_it(nats_url: str, hot_bundle: Path, tmp_path: Path) -> None:
    nats = ("--source", nats_url, "--stream", "NOPE", "--subject", "nope.x", "--durable", "d")
    code, _, err = consume(hot_bundle, tmp_path / "l.sqlite", *nats)
    assert code == 2 and "cannot find the stream NOPE on the server" in err
    assert "nats stream add NOPE --subjects 'nope.x'" in err


def test_a_bundle_without_an_event_id_needs_id_field(tmp_path: Path) -> None:
    (tmp_path / "p.bal").write_text(POLICY.replace("    id id\n", ""), encoding="utf-8")
    assert run_cli("compile", tmp_path / "p.bal", "-o", tmp_path / "p.json")[0] == 0
    code, _, err = consume(tmp_path / "p.json", tmp_path / "l.sqlite", "--source", "-", stdin=LINES)
    assert code == 2 and "give --id-field NAME" in err
    code, out, _ = consume(tmp_path / "p.json", tmp_path / "l.sqlite", "--source", "-", "--id-field", "id", stdin=LINES)
    assert code == 0 and len(out.splitlines()) == 4


def test_policy_sources_are_refused_for_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "p.bal").write_text(POLICY, encoding="utf-8")
    code, _, err = consume(tmp_path / "p.bal", tmp_path / "l.sqlite", "--source", "-")
    assert code == 2 and "give a compiled bundle (.json; `ballast compile` writes one)" in err
