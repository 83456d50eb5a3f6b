"""Duration strings ("90s", "15m", "6h", "7d") and crontab checks: the config's time spellings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given
from hypothesis import strategies as st

from driftd.durations import cron_problem, format_age, format_duration, parse_duration

MAX_SECONDS = timedelta.max.days * 86400
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("6h", 21600),
        ("7d", 604800),
        ("2w", 1209600),
        ("1h30m", 5400),
        ("1d12h", 129600),
        ("1.5h", 5400),
        ("1.1m", 66),  # exact: float arithmetic would give 66.00000000000001 s
        (" 1h 30m ", 5400),
        ("0m1s", 1),
        ("999999999d", MAX_SECONDS),
    ],
)
def test_parse_accepted_spellings(text: str, seconds: int) -> None:
    """Integer or decimal counts of s/m/h/d/w, combined, spaces ignored, become whole seconds."""
    assert parse_duration(text) == timedelta(seconds=seconds)


BAD_FORMAT = 'must be a duration such as "90s", "15m", "6h" or "7d"'


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("-5m", "must be positive"),
        ("0s", "must be positive"),
        ("0h0m", "must be positive"),
        ("", BAD_FORMAT),
        ("15", BAD_FORMAT),
        ("m", BAD_FORMAT),
        ("15 minutes", BAD_FORMAT),
        ("1M", BAD_FORMAT),  # a month or a minute? neither: units are lower case
        ("1H", BAD_FORMAT),
        (".5h", BAD_FORMAT),
        ("1.s", BAD_FORMAT),
        ("1e3s", BAD_FORMAT),
        ("+5m", BAD_FORMAT),
        ("5m-", BAD_FORMAT),
        ("\u0661\u0665m", BAD_FORMAT),  # Arabic-Indic digits match Python's \d, not ours
        ("1y", BAD_FORMAT),
        ("0.5s", "must be a whole number of seconds"),
        ("0.0000001s", "must be a whole number of seconds"),  # would round to timedelta(0)
        ("1000000000d", "is too long (at most 999999999d)"),
        ("9" * 400 + "s", "is too long (at most 999999999d)"),  # float() would give inf
    ],
)
def test_parse_rejects_with_a_reason(text: str, why: str) -> None:
    """Every refusal is a ValueError whose message is the config problem text."""
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == why


@given(st.integers(min_value=1, max_value=MAX_SECONDS))
def test_format_then_parse_is_identity(seconds: int) -> None:
    """Any positive whole-second duration survives format -> parse unchanged."""
    delta = timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=10_000), st.sampled_from(sorted(UNITS))),
        min_size=1,
        max_size=5,
    )
)
def test_parse_sums_the_parts_and_format_is_canonical(parts: list[tuple[int, str]]) -> None:
    """Parts in any order parse to their total; formatting gives the one canonical spelling."""
    text = "".join(f"{n}{u}" for n, u in parts)
    total = sum(n * UNITS[u] for n, u in parts)
    if total == 0:
        with pytest.raises(ValueError, match="must be positive"):
            parse_duration(text)
        return
    delta = parse_duration(text)
    assert delta == timedelta(seconds=total)
    canonical = format_duration(delta)
    assert format_duration(parse_duration(canonical)) == canonical
    # largest unit first, each at most once, no zero parts, no weeks
    letters = [c for c in canonical if c.isalpha()]
    assert letters == sorted(set(letters), key="dhms".index)
    assert not canonical.startswith("0") and "w" not in canonical


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=6), "6h"),
        (timedelta(days=7), "7d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(seconds=59, microseconds=999_999), "59s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=-5), "0s"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    """Largest units first; sub-second parts dropped; zero and negative print as 0s."""
    assert format_duration(delta) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (-3, "0s"), (59.9, "59s"), (60, "1m"), (5400, "1h"), (86400 * 3, "3d")],
)
def test_format_age(seconds: float, text: str) -> None:
    """A rough age in the largest whole unit, for `driftd status`."""
    assert format_age(seconds) == text


# ---------------------------------------------------------------------------------------------
# crontab


@pytest.mark.parametrize(
    "expr",
    [
        "* * * * *",
        "0 * * * *",
        "*/15 6-18 * * mon-fri",
        "0 3 last * *",
        "0 0 1 jan,jul *",
        "5/10 * * * *",
        "0 0 * * sat,sun",
        "0 0 1-31/2 * *",
        "0 0 * * *",
        "0 12 * dec mon",
    ],
)
def test_cron_accepted_and_agreed_by_apscheduler(expr: str) -> None:
    """What driftd accepts, the daemon's scheduler (APScheduler 3) accepts too."""
    assert cron_problem(expr) is None
    CronTrigger.from_crontab(expr, timezone="UTC")


def test_numeric_weekdays_are_refused_because_apscheduler_counts_from_monday() -> None:
    """APScheduler 3 reads "1-5" as Tue-Sat, not cron's Mon-Fri: driftd insists on names."""
    monday = datetime(2024, 1, 1, tzinfo=UTC)
    fire = CronTrigger.from_crontab("0 9 * * 1", timezone="UTC").get_next_fire_time(None, monday)
    assert fire is not None and fire.strftime("%a") == "Tue"  # the trap itself
    assert cron_problem("0 9 * * 1") == (
        "day_of_week field '1': use names such as mon-fri (APScheduler counts 0 = Monday)"
    )


ATOMS = [
    "*", "*/0", "*/1", "*/15", "*/59", "*/60", "0", "5", "7", "12", "13", "23", "24", "31", "32",
    "59", "60", "1-5", "5-1", "0-59", "1-31/2", "5/10", "3-3/1", "last", "LAST", "jan", "feb-mar",
    "jan-mar/2", "mon", "mon-fri", "sun", "fri-mon", "xyz", "1,2", "1,,2", "1-mon", "0-6",
]  # fmt: skip


@given(st.lists(st.sampled_from(ATOMS), min_size=5, max_size=5))
def test_cron_never_accepts_what_apscheduler_refuses(fields: list[str]) -> None:
    """A schedule that passes validation never makes the daemon's CronTrigger raise at start-up."""
    expr = " ".join(fields)
    if cron_problem(expr) is None:
        CronTrigger.from_crontab(expr, timezone="UTC")


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("* * * *", "must have 5 fields: minute hour day month day_of_week"),
        ("61 * * * *", "minute field '61': values must be in 0-59"),
        ("*/60 * * * *", "minute field '*/60': the step must be between 1 and 59"),
        ("* * last * *", None),
        ("* last * * *", "hour field 'last': names are not allowed here"),
        (
            "* * * * 7",
            "day_of_week field '7': use names such as mon-fri (APScheduler counts 0 = Monday)",
        ),
        ("* * * * funday", "day_of_week field 'funday': 'funday' is not a day_of_week name"),
        ("* * * * mon-fri/2", "day_of_week field 'mon-fri/2': a step needs numbers, not names"),
    ],
)
def test_cron_problem_messages(expr: str, why: str | None) -> None:
    """Each refusal names the field, shows it as written, and says what is wrong."""
    assert cron_problem(expr) == why
