"""`ballast score`: reports, history with hysteresis, backfill, no cross-tenant leakage, bad input,
and the HTML page in headless Chromium."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from ballast.cli.score_report import SCORE_COLOR
from tests.simulator.test_reports import chromium, png_pixels, require_chromium
from tests.support import run_cli

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog" / "scoring" / "tenants.bal"
EXAMPLE = REPO / "docs" / "examples" / "tenants.jsonl"
NOW = "2026-12-01T00:00:00Z"


def score(*args: object) -> tuple[int, str, str]:
    return run_cli("score", *args)


def write_jsonl(path: Path, documents: list[dict]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path


def test_the_docs_example_scores_by_hand() -> None:
    code, out, err = score(EXAMPLE, "--scoring", CATALOG, "--profile", "csm", "--now", NOW)
    assert (code, err) == (0, "")
    # acme, csm weights 2,2,1,1,1,2,2 of 11 over 0.7, 0.8, 0.95, 0.88, 1 - 1/10, 0.5, (0.97 - 0.8)/0.2:
    # 100 * 8.43 / 11 = 76.6 → silver (65 ≤ 76.6 < 80)
    assert "acme: 76.6, badge silver\n" in out
    assert re.search(r"response_slas +support\.sla_met_ratio +0\.97 +fresh +18\.2% +15\.5 +20\.2%", out)
    # globex has no automation metric (renormalised away) and no incident count (counted as zero)
    assert "globex: 45.6, no badge\n" in out
    assert re.search(r"incident_history +incidents\.sev12_last_90d +— +missing: zero", out)


def test_json_is_deterministic_and_complete() -> None:
    runs = [
        score(EXAMPLE, "--scoring", CATALOG, "--profile", "regulator", "--now", NOW, "--format", "json") for _ in "ab"
    ]
    assert runs[0] == runs[1]
    report = json.loads(runs[0][1])
    assert report["format"] == "ballast.scores/1" and report["profile"] == "regulator"
    acme = report["tenants"][0]
    assert (acme["tenant"], acme["badge"], acme["version"]) == ("acme", "gold", "2026.12")
    governance = next(f for f in acme["factors"] if f["signal"] == "governance_health")
    assert governance["metric"] == "governance.checks_passing_ratio"
    assert governance["source"].endswith("tenants.jsonl:2")
    assert sum(f["percent"] for f in acme["factors"]) == pytest.approx(100, abs=1e-3)


def band_metrics(path: Path, coverage_by_day: dict[int, float]) -> Path:
    documents = [
        {
            "tenant": "acme",
            "time": f"2026-11-{day:02d}T00:00:00Z",
            "metrics": {"m.cov": coverage, "m.q": 0.6},
        }
        for day, coverage in coverage_by_day.items()
    ]
    return write_jsonl(path, documents)


def small_scoring(path: Path, *, version: str = "1", weights: str = "cov: 1, q: 1") -> Path:
    path.write_text(
        f'scoring small version "{version}" {{\n'
        '  signal cov { metric "m.cov" stale_after 30d }\n'
        '  signal q { metric "m.q" stale_after 30d }\n'
        f'  profile p {{\n    weights {{ {weights} }}\n    justification "two signals"\n'
        "    badge silver { enter 60 exit 55 }\n    badge gold { enter 80 exit 75 }\n  }\n}\n",
        encoding="utf-8",
    )
    return path


def test_history_carries_the_previous_badge_into_hysteresis(tmp_path: Path) -> None:
    doc = small_scoring(tmp_path / "s.bal")
    # day 1: (1.0 + 0.6) / 2 = 80 → gold; day 2: (0.92 + 0.6) / 2 = 76: in gold's band (75..80)
    metrics = band_metrics(tmp_path / "m.jsonl", {1: 1.0, 2: 0.92})
    history = tmp_path / "h.sqlite"
    day2 = ("--scoring", doc, "--profile", "p", "--now", "2026-11-02T00:00:00Z", "--format", "json")
    code, out, _ = score(
        metrics, "--scoring", doc, "--profile", "p", "--now", "2026-11-01T00:00:00Z", "--history", history
    )
    assert code == 0 and "acme: 80.0, badge gold" in out
    without = json.loads(score(metrics, *day2)[1])["tenants"][0]
    with_history = json.loads(score(metrics, *day2, "--history", history)[1])["tenants"][0]
    assert without["badge"] == "silver"  # no previous badge: the reference
    assert (with_history["badge"], with_history["previous_badge"]) == ("gold", "gold")
    assert [(t["score"], t["badge"]) for t in with_history["trend"]] == [(80.0, "gold"), (76.0, "gold")]
    # scoring the same moment again replaces its row rather than adding one
    again = json.loads(score(metrics, *day2, "--history", history)[1])["tenants"][0]
    assert len(again["trend"]) == 2 and again["previous_badge"] == "gold"


def test_backfill_rescores_history_under_the_new_version_and_keeps_both(tmp_path: Path) -> None:
    metrics = band_metrics(tmp_path / "m.jsonl", {1: 1.0, 2: 0.92, 3: 0.5})
    history = tmp_path / "h.sqlite"
    v1 = small_scoring(tmp_path / "v1.bal")
    for day in (1, 2, 3):
        code, _, err = score(
            metrics, "--scoring", v1, "--profile", "p", "--now", f"2026-11-0{day}T00:00:00Z", "--history", history
        )
        assert code == 0, err
    v2 = small_scoring(tmp_path / "v2.bal", version="2", weights="cov: 3, q: 1")
    code, out, err = score("backfill", "--scoring", v2, "--profile", "p", "--history", history)
    assert (code, err) == (0, "")
    assert (
        out == "backfilled profile p version 2 from version(s) 1: 3 score(s) added for 1 tenant(s), 0 already scored\n"
    )
    with sqlite3.connect(history) as db:
        rows = db.execute("SELECT version, time, round(score, 4), badge FROM scores ORDER BY version, time").fetchall()
    day = 86400
    t1 = rows[0][1]
    assert rows == [
        ("1", t1, 80.0, "gold"),
        ("1", t1 + day, 76.0, "gold"),
        ("1", t1 + 2 * day, 55.0, None),
        # v2 weighs coverage 3:1: (3 * 1.0 + 0.6) / 4 = 90, (3 * 0.92 + 0.6) / 4 = 84, (1.5 + 0.6) / 4 = 52.5
        ("2", t1, 90.0, "gold"),
        ("2", t1 + day, 84.0, "gold"),
        ("2", t1 + 2 * day, 52.5, None),
    ]
    code, out, _ = score("backfill", "--scoring", v2, "--profile", "p", "--history", history)
    assert out.endswith("0 score(s) added for 0 tenant(s), 3 already scored\n")  # idempotent


def test_backfill_chains_hysteresis_over_the_past(tmp_path: Path) -> None:
    metrics = band_metrics(tmp_path / "m.jsonl", {1: 1.0, 2: 0.92})
    history = tmp_path / "h.sqlite"
    v1 = small_scoring(tmp_path / "v1.bal")
    for day in (1, 2):
        score(metrics, "--scoring", v1, "--profile", "p", "--now", f"2026-11-0{day}T00:00:00Z", "--history", history)
    # v2 only renames the version: the same scores, and day 2 keeps gold through the band again
    v2 = small_scoring(tmp_path / "v2.bal", version="2")
    score("backfill", "--scoring", v2, "--profile", "p", "--history", history)
    with sqlite3.connect(history) as db:
        assert db.execute("SELECT badge FROM scores WHERE version = '2' ORDER BY time").fetchall() == [
            ("gold",),
            ("gold",),
        ]


# --- no cross-tenant leakage -------------------------------------------------------------------------

TENANTS = [f"tenant-{chr(ord('k') + i)}{i:02d}" for i in range(4)]


def tagged_value(index: int, metric: int) -> float:
    """A metric value no other tenant has, recognisable in any output: 0.3<tenant><metric>7."""
    return float(f"0.3{index:02d}{metric:02d}7")


def test_no_output_of_a_tenant_carries_anything_of_another(tmp_path: Path) -> None:
    source = tmp_path / "metrics"
    source.mkdir()
    metric_names = [
        "features.enabled_ratio",
        "training.completion_ratio",
        "governance.checks_passing_ratio",
        "automation.runbooks_automated_ratio",
    ]
    for i, tenant in enumerate(TENANTS):
        documents = [
            {
                "tenant": tenant,
                "time": f"2026-11-{day:02d}T00:00:00Z",
                "metrics": {name: tagged_value(i, m) + day / 1000 for m, name in enumerate(metric_names)},
            }
            for day in (1, 20)
        ]
        write_jsonl(source / f"{tenant}.jsonl", documents)
    history = tmp_path / "h.sqlite"
    outputs: dict[str, dict[str, str]] = {t: {} for t in TENANTS}
    for now in ("2026-11-02T00:00:00Z", NOW):
        for fmt in ("text", "json", "md", "html"):
            target = tmp_path / f"out-{fmt}"
            code, _, err = score(
                source,
                "--scoring",
                CATALOG,
                "--profile",
                "csm",
                "--now",
                now,
                "--history",
                history,
                "--format",
                fmt,
                "-o",
                target,
            )
            assert code == 0, err
            for tenant in TENANTS:
                outputs[tenant][fmt] = (target / f"{tenant}.{'txt' if fmt == 'text' else fmt}").read_text(
                    encoding="utf-8"
                )
    scores = {t: json.loads(outputs[t]["json"])["trend"] for t in TENANTS}
    for i, tenant in enumerate(TENANTS):
        own = json.loads(outputs[tenant]["json"])
        assert own["tenant"] == tenant and len(own["trend"]) == 2
        assert str(tagged_value(i, 0) + 20 / 1000)[:7] in outputs[tenant]["text"]  # its own data is there
        for j, other in enumerate(TENANTS):
            if other == tenant:
                continue
            other_values = [f"{tagged_value(j, m) + day / 1000:.7g}"[:7] for m in range(4) for day in (1, 20)]
            other_scores = {f"{p['score']}" for p in scores[other]}
            for fmt, text in outputs[tenant].items():
                assert other not in text, f"{tenant}'s {fmt} report names {other}"
                for value in other_values:
                    assert value not in text, f"{tenant}'s {fmt} report holds {other}'s metric value {value}"
                if fmt == "json":
                    assert not other_scores & {f"{p['score']}" for p in own["trend"]}, (
                        f"{other}'s score in {tenant}'s trend"
                    )


# --- the HTML page ------------------------------------------------------------------------------------


def html_report(tmp_path: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    doc = small_scoring(tmp_path / "s.bal")
    metrics = band_metrics(tmp_path / "m.jsonl", {1: 1.0, 2: 0.92, 3: 0.7, 4: 0.95})
    history = tmp_path / "h.sqlite"
    for day in (1, 2, 3, 4):
        code, _, err = score(
            metrics, "--scoring", doc, "--profile", "p", "--now", f"2026-11-0{day}T00:00:00Z", "--history", history,
            "--format", "html", "-o", tmp_path / "html",
        )  # fmt: skip
        assert code == 0, err
    return tmp_path / "html" / "acme.html"


def test_the_html_page_is_self_contained_and_deterministic(tmp_path: Path) -> None:
    page = html_report(tmp_path).read_text(encoding="utf-8")
    for forbidden in ("http://", "https://", "src=", "<script", "@import", "url(", "<link"):
        assert forbidden not in page
    assert page.count("<circle") == 4  # a point per recorded day
    assert 'data-chart="trend"' in page and 'data-chart="factors"' in page
    again = html_report(tmp_path / "again").read_text(encoding="utf-8")
    assert again == page.replace(str(tmp_path), str(tmp_path / "again"))


@pytest.mark.browser
def test_the_tenant_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = require_chromium()
    page = html_report(tmp_path)
    png = tmp_path / "page.png"
    shot = chromium(browser, tmp_path / "profile-shot", f"--screenshot={png}", page.as_uri())
    assert png.is_file(), f"no screenshot: {shot.stderr[-2000:]}"
    width, height, colours = png_pixels(png.read_bytes())
    assert (width, height) == (1280, 2400)
    assert len(colours) > 50, "the screenshot is (almost) one colour"
    assert bytes.fromhex(SCORE_COLOR[1:]) in colours, "the score line and bars are not drawn"
    dom = chromium(browser, tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert set(re.findall(r'data-chart="([a-z]+)"', dom.stdout)) == {"trend", "factors"}
    # days 1-4: 80 gold, 76 gold (in its band), 65 silver, 77.5 silver (under gold's enter level)
    assert "acme: 77.5, badge silver" in dom.stdout


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('{"tenant": "a", "time": 0, "metrics": {}}\n{"tenant": "a", oops}\n', "m.jsonl:2: not JSON"),
        ('{"tenant": "a", "time": 0, "metrics": {"m.q": "high"}}\n', "m.jsonl:1: metric 'm.q' of tenant 'a' is the string 'high': a metric is a number"),
        ('{"tenant": "a", "time": "yesterday", "metrics": {}}\n', "m.jsonl:1: 'time' is the string 'yesterday'"),
        ('{"tenant": "../etc", "time": 0, "metrics": {}}\n', "m.jsonl:1: 'tenant' is the string '../etc': a tenant id is"),
        ('{"tenant": "a", "time": 0, "metric": {}}\n', "m.jsonl:1: unknown key 'metric'"),
        ('[1, 2]\n', "m.jsonl:1: a metric document is a JSON object, got a list"),
        ('{"tenant": "a", "time": 0, "metrics": {"m.q": NaN}}\n', "m.jsonl:1: NaN is not a number JSON allows"),
        ('{"tenant": "a", "time": 0, "metrics": {"m.q": 1}}\n{"tenant": "a", "time": 0, "metrics": {"m.q": 2}}\n', "m.jsonl:2: tenant 'a' metric 'm.q' is 2 at a time where"),
        ("\n# nothing but a comment\n", "no metric documents"),
    ],
)  # fmt: skip
def test_malformed_metrics_are_clear_errors(tmp_path: Path, lines: str, message: str) -> None:
    doc = small_scoring(tmp_path / "s.bal")
    (tmp_path / "m.jsonl").write_text(lines, encoding="utf-8")
    code, out, err = score(tmp_path / "m.jsonl", "--scoring", doc, "--profile", "p", "--now", NOW)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    doc = small_scoring(tmp_path / "s.bal")
    metrics = band_metrics(tmp_path / "m.jsonl", {1: 1.0})
    cases = [
        (
            (metrics, "--scoring", CATALOG, "--profile", "regulater"),
            "has no profile 'regulater': did you mean 'regulator'?",
        ),
        ((metrics, "--scoring", doc, "--profile", "p", "--format", "html"), "--format html writes one page per tenant"),
        ((tmp_path / "none", "--scoring", doc, "--profile", "p"), "none: no such file or directory"),
        ((metrics, "--scoring", doc, "--profile", "p", "--now", "soon"), "--now soon: not a time"),
        (
            (metrics, "--scoring", doc, "--profile", "p", "--tenant", "zed"),
            "--tenant zed: the metrics have no such tenant",
        ),
        (("backfill", "--scoring", doc, "--profile", "p"), "give it with --history DB"),
        (("backfill", "--scoring", doc, "--profile", "p", "--history", tmp_path / "no.db"), "no such file"),
        (
            (metrics, "--scoring", REPO / "catalog" / "governance" / "router.bal", "--profile", "p"),
            "no scoring document",
        ),
    ]
    for args, message in cases:
        code, _, err = score(*args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
    (tmp_path / "not.db").write_text("not a database at all, " * 100, encoding="utf-8")
    code, _, err = score(metrics, "--scoring", doc, "--profile", "p", "--history", tmp_path / "not.db", "--now", NOW)
    assert code == 2 and "cannot be opened as a score history" in err
    with sqlite3.connect(tmp_path / "votes.db") as db:
        db.execute("CREATE TABLE ballots (id TEXT)")
    code, _, err = score(metrics, "--scoring", doc, "--profile", "p", "--history", tmp_path / "votes.db", "--now", NOW)
    assert code == 2 and "an SQLite database of something else (tables ballots)" in err
    with sqlite3.connect(tmp_path / "votes.db") as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("ballots",)]  # left untouched


def test_a_scoring_document_with_errors_prints_them_positioned(tmp_path: Path) -> None:
    doc = tmp_path / "bad.bal"
    doc.write_text(
        'scoring s version "1" {\n  signal a { metric "m" stale_after 1d better "up" }\n}\n', encoding="utf-8"
    )
    code, _, err = score(EXAMPLE, "--scoring", doc, "--profile", "p")
    assert code == 1 and "bad.bal:2:48: error[scoring]: signal 'a': better 'up' is not one of higher, lower" in err


def test_a_tenant_without_any_counted_signal_fails_the_run(tmp_path: Path) -> None:
    doc = small_scoring(tmp_path / "s.bal")
    metrics = write_jsonl(tmp_path / "m.jsonl", [{"tenant": "empty", "time": 0, "metrics": {"other": 1}}])
    code, out, _ = score(metrics, "--scoring", doc, "--profile", "p", "--now", NOW)
    assert code == 1 and "empty: none, no badge" in out


def test_factor_bars_are_proportional_to_points_and_the_largest_share_fills_the_plot(tmp_path: Path) -> None:
    page = html_report(tmp_path).read_text(encoding="utf-8")
    chart = re.search(r'<svg data-chart="factors".*?</svg>', page, flags=re.S)[0]
    earned = re.findall(r'width="([\d.]+)"[^>]*><title>(\w+): ([\d.]+) points from', chart)
    possible = re.findall(r'width="([\d.]+)"[^>]*><title>(\w+): up to ([\d.]+) points', chart)
    assert {name for _, name, _ in earned} == {"cov", "q"}
    ratios = {round(float(w) / float(p), 1) for w, _, p in earned + possible if float(p) > 0}
    assert len(ratios) == 1  # one scale for every bar
    assert max(float(w) for w, _, _ in possible) == 570  # the plot's width


def test_json_files_hold_one_document_or_a_list_and_a_directory_combines_them(tmp_path: Path) -> None:
    doc = small_scoring(tmp_path / "s.bal")
    source = tmp_path / "metrics"
    source.mkdir()
    (source / "a-cov.json").write_text(json.dumps({"tenant": "a", "time": 0, "metrics": {"m.cov": 1.0}}))
    (source / "a-q.json").write_text(json.dumps([{"tenant": "a", "time": 10, "metrics": {"m.q": 0.5}}]))
    (source / "notes.txt").write_text("not read: only .json and .jsonl files are")
    code, out, err = score(source, "--scoring", doc, "--profile", "p", "--now", "1970-01-02T00:00:00Z")
    assert (code, err) == (0, "")
    assert "a: 75.0, badge silver" in out  # (1.0 + 0.5) / 2, metrics from two files
    assert "a-q.json[0]" in out and "a-cov.json" in out
