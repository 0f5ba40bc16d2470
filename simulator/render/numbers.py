"""How numbers read in a report: three significant digits, a unit inferred from the KPI's name.

Every renderer formats through these functions so the Markdown, the HTML tables and the chart
labels agree, and so the same float always gives the same text (reports must be byte-identical).

    >>> number(0.012345), number(98.765), number(12345.6), number(42)
    ('0.0123', '98.8', '12,346', '42')
    >>> kpi_value("sla_adherence_pct", 97.14), kpi_value("sla_adherence_pct", 99.9632)
    ('97.1 %', '99.963 %')
    >>> kpi_value("directive_latency_ms.p95", 1520.0)
    '1.52 s'
    >>> kpi_values_apart("sla_adherence_pct", 98.98, [99.0])
    ('98.98 %', ['99 %'])
    >>> kpi_difference("sla_adherence_pct", 1.25), kpi_difference("time_to_mitigate_s.mean", -0.25)
    ('+1.25 pp', '−250 ms')
    >>> kpi_label("directive_latency_ms.p95"), clock(205), clock(3725.5)
    ('Directive latency (p95)', '3m25s', '1h02m05.5s')
"""

from __future__ import annotations

import math

MISSING = "—"
MINUS = "−"  # a real minus sign: the hyphen is narrower and reads as a dash in tables

# A KPI's unit comes from the suffix of its name (`sla_adherence_pct`, `time_to_mitigate_s.mean`).
PERCENT, SECONDS, MILLISECONDS, HOURS, RATIO, PLAIN = "pct", "s", "ms", "h", "ratio", "plain"
_SUFFIX_UNITS = (
    ("_pct", PERCENT),
    ("_ms", MILLISECONDS),
    ("_s", SECONDS),
    ("_hours", HOURS),
    ("_rate", RATIO),
    ("_share", RATIO),
)


def number(value: float | int | None, digits: int = 3) -> str:
    """`value` to `digits` significant digits, thousands grouped; integers stay exact.

    Digits left of the point are never dropped (12,346 rather than 12,300): a count read as a
    rounded number looks wrong in a table.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 10 ** (digits - 1)):
        text = f"{round(value):,}"
    elif value == 0:
        text = "0"
    else:
        magnitude = math.floor(math.log10(abs(value)))
        decimals = max(0, digits - 1 - magnitude)
        text = f"{value:,.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("-0", "0"):
            text = "0"
    return text.replace("-", MINUS)


def percent(value: float, digits: int = 3) -> str:
    """A percentage; near 100 it keeps two significant digits of the gap to 100.

    SLA goals live in the nines: 99.78 % and 99.95 % must not both read as 99.8 %. `digits`
    above 3 adds as many decimals.
    """
    gap = 100 - value
    if 0 < gap < 10:
        decimals = min(4, 1 - math.floor(math.log10(gap))) + digits - 3
        return number(round(value, decimals), digits=decimals + 2)
    return number(value, digits)


def signed(text: str) -> str:
    """A formatted number with an explicit sign, so differences read as changes."""
    if text.startswith(MINUS) or text in ("0", MISSING) or text.startswith("0 "):
        return text
    return "+" + text


def unit_of(kpi: str) -> str:
    """The unit of a KPI, from the first part of its dotted name that carries a unit suffix."""
    for part in kpi.split("."):
        for suffix, unit in _SUFFIX_UNITS:
            if part.endswith(suffix):
                return unit
    return PLAIN


def duration(seconds: float | None, digits: int = 3) -> str:
    """Seconds in the unit that reads best: 250 ms, 12.5 s, 4.5 min, 2.25 h."""
    if seconds is None:
        return MISSING
    size = abs(seconds)
    if size == 0:
        return "0 s"
    if size < 1:
        return f"{number(seconds * 1000, digits)} ms"
    if size < 120:
        return f"{number(seconds, digits)} s"
    if size < 2 * 3600:
        return f"{number(seconds / 60, digits)} min"
    return f"{number(seconds / 3600, digits)} h"


def kpi_value(kpi: str, value: float | int | None, digits: int = 3) -> str:
    """A KPI's value with its unit: `99.5 %`, `1.52 s`, `12.3 h`; rates and shares (0..1) read as percentages."""
    if value is None:
        return MISSING
    unit = unit_of(kpi)
    if unit == PERCENT:
        return f"{percent(value, digits)} %"
    if unit == RATIO:
        return f"{percent(value * 100, digits)} %"
    if unit == SECONDS:
        return duration(value, digits)
    if unit == MILLISECONDS:
        return duration(value / 1000, digits)
    if unit == HOURS:
        return f"{number(value, digits)} h"
    return number(value, digits)


MAX_DIGITS = 12


def kpi_values_apart(kpi: str, value: float | None, thresholds: list[float]) -> tuple[str, list[str]]:
    """`value` and its thresholds, with the fewest digits (3 or more) that never round it across one.

    Rounding is monotonic, so texts that differ keep the values' order; only a value that reads
    the same as a threshold it differs from needs more digits (98.98 must not read as 99 beside
    a minimum of 99).
    """
    for digits in range(3, MAX_DIGITS + 1):
        text = kpi_value(kpi, value, digits)
        bounds = [kpi_value(kpi, t, digits) for t in thresholds]
        if value is None or all(value == t or text != b for t, b in zip(thresholds, bounds, strict=True)):
            break
    return text, bounds


def kpi_difference(kpi: str, value: float | int | None) -> str:
    """A difference of a KPI, signed; percentages differ by percentage points (pp)."""
    if value is None:
        return MISSING
    unit = unit_of(kpi)
    if unit == PERCENT:
        return signed(f"{number(value)} pp")
    if unit == RATIO:
        return signed(f"{number(value * 100)} pp")
    return signed(kpi_value(kpi, value))


def kpi_interval(kpi: str, interval: list[float] | tuple[float, float] | None) -> str:
    """A confidence interval of a difference, `[−0.3, +2.1] pp`; a dash when there is none."""
    if interval is None:
        return MISSING
    low, high = (kpi_difference(kpi, bound) for bound in interval)
    unit = unit_of(kpi)
    if unit in (PERCENT, RATIO):  # one unit for the pair reads better than two
        return f"[{low.removesuffix(' pp')}, {high.removesuffix(' pp')}] pp"
    return f"[{low}, {high}]"


def kpi_label(kpi: str) -> str:
    """A KPI's name for people: `directive_latency_ms.p95` → `Directive latency (p95)`."""
    head, *rest = kpi.split(".")
    for suffix in ("_pct", "_ms", "_s"):  # the unit shows in the value; `_hours`, `_rate` are words
        if head.endswith(suffix):
            head = head.removesuffix(suffix)
            break
    label = head.replace("_", " ").replace("sla ", "SLA ")
    label = label[:1].upper() + label[1:]
    return f"{label} ({', '.join(part.replace('_', ' ') for part in rest)})" if rest else label


def clock(t_s: float | None) -> str:
    """A moment of the scenario as time since its start: `15s`, `3m25s`, `1h02m05.5s`.

    Spelled with units so it cannot be read as a time of day (`23:03` could be 11 pm).
    """
    if t_s is None:
        return MISSING
    sign = MINUS if t_s < 0 else ""
    tenths = round(abs(t_s) * 10)
    minutes, seconds = divmod(tenths / 10, 60)
    hours, minutes = divmod(int(minutes), 60)
    second = f"{int(seconds)}" if tenths % 10 == 0 else f"{seconds:.1f}"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m{second.zfill(2 if tenths % 10 == 0 else 4)}s"
    if minutes:
        return f"{sign}{minutes}m{second.zfill(2 if tenths % 10 == 0 else 4)}s"
    return f"{sign}{second}s"


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 rule`, `3 rules` (thousands grouped)."""
    return f"{number(count)} {word if count == 1 else words or word + 's'}"
