"""Opening-hours parsing and evaluation (geo.engine.opening_hours)."""
from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from geo.engine.opening_hours import (HoursError, OpeningHours, Rule, is_open_at, minute_of_week,
                       open_intervals, parse_hours)

UTC = dt.timezone.utc
MONDAY = dt.datetime(2024, 1, 1)  # a Monday
DAYS = {"Mo": 0, "Tu": 1, "We": 2, "Th": 3, "Fr": 4, "Sa": 5, "Su": 6}
WEEK = 7 * 1440


def at(spec: str) -> dt.datetime:
    """'Mo 08:00' -> naive Shanghai-local datetime in the week of 2024-01-01."""
    day, hhmm = spec.split()
    h, m = map(int, hhmm.split(":"))
    return MONDAY + dt.timedelta(days=DAYS[day], hours=h, minutes=m)


def from_minute(m: int) -> dt.datetime:
    return MONDAY + dt.timedelta(minutes=m)


def cases(texts, expectations):
    return [pytest.param(t, spec, want, id=f"{t}@{spec}")
            for t in texts for spec, want in expectations.items()]


ALWAYS = ["24小时", "24h", "24H", "24/7", "全天", "全天24小时", "全天开放", "00:00-24:00",
          "Mo-Su 00:00-24:00", "24小时开放", "7x24小时", "每天 00:00-24:00", "0:00-24:00"]

EVERY_DAY_8_20 = ["08:00-20:00", "8:00-20:00", "08:00~20:00", "08:00—20:00", "8:00至20:00",
                  "08：00-20：00", "0800-2000", "8:00到20:00", "08:00 - 20:00", "８:００－２０:００",
                  "每天 8:00-20:00", "每日8:00-20:00", "Mo-Su 08:00-20:00", "周一至周日 8:00-20:00",
                  "开放时间：8:00-20:00", "8点-20点", "早上8点至晚上8点", "上午8:00-下午8:00"]
EVERY_DAY_8_20_AT = {"Mo 07:59": False, "Mo 08:00": True, "We 12:00": True, "Th 19:59": True,
                     "Fr 20:00": False, "Sa 08:00": True, "Su 19:59": True, "Su 23:00": False,
                     "Tu 00:00": False}

WEEKDAYS_9_17 = ["周一至周五 9:00-17:00", "周一到周五 9:00-17:00", "周一-周五 09:00-17:00",
                 "工作日 9:00-17:00", "星期一至星期五 9:00-17:00", "周一至五 9:00-17:00",
                 "Mo-Fr 09:00-17:00", "Mon-Fri 9:00-17:00", "周一至周五：9:00-17:00",
                 "礼拜一到礼拜五 9:00-17:00", "周一至周五9:00-17:00", "周1-周5 9:00-17:00"]
WEEKDAYS_9_17_AT = {"Mo 09:00": True, "Mo 08:59": False, "We 12:00": True, "Fr 16:59": True,
                    "Fr 17:00": False, "Sa 10:00": False, "Su 10:00": False}

WEEKEND_10_16 = ["周末 10:00-16:00", "双休日 10:00-16:00", "周六、周日 10:00-16:00",
                 "周六,周日 10:00-16:00", "周六和周日 10:00-16:00", "周六日 10:00-16:00",
                 "Sa,Su 10:00-16:00", "Sa-Su 10:00-16:00", "星期六、星期天 10:00-16:00"]
WEEKEND_10_16_AT = {"Sa 10:00": True, "Su 15:59": True, "Su 16:00": False, "Sa 09:59": False,
                    "Fr 12:00": False, "Mo 12:00": False}

TWO_RULES = ["周一至周五 8:00-18:00；周六 9:00-12:00", "周一至周五 8:00-18:00;周六 9:00-12:00",
             "周一至周五 8:00-18:00，周六 9:00-12:00", "周一至周五 8:00-18:00, 周六 9:00-12:00",
             "周一至周五 8:00-18:00\n周六 9:00-12:00", "Mo-Fr 08:00-18:00; Sa 09:00-12:00",
             "工作日8:00-18:00 周六9:00-12:00"]
TWO_RULES_AT = {"Mo 08:00": True, "Fr 17:59": True, "Fr 18:00": False, "Sa 08:59": False,
                "Sa 09:00": True, "Sa 11:59": True, "Sa 12:00": False, "Su 10:00": False}

SPLIT_DAY = ["8:00-12:00, 14:00-18:00", "8:00-12:00，14:00-18:00", "8:00-12:00 14:00-18:00",
             "8:00-12:00、14:00-18:00", "8:00-12:00；14:00-18:00", "Mo-Su 08:00-12:00,14:00-18:00"]
SPLIT_DAY_AT = {"Mo 08:00": True, "Mo 11:59": True, "Mo 12:00": False, "Mo 13:59": False,
                "Mo 14:00": True, "Su 17:59": True, "Su 18:00": False, "Sa 07:00": False}

WEEKDAYS_SPLIT = ["周一至周五 8:00-12:00 14:00-18:00", "周一至周五 8:00-12:00, 14:00-18:00",
                  "周一至周五 8:00-12:00；14:00-18:00", "Mo-Fr 08:00-12:00,14:00-18:00",
                  "周一至五 上午8:00-12:00 下午2:00-6:00"]
WEEKDAYS_SPLIT_AT = {"Mo 08:00": True, "Tu 12:00": False, "We 14:00": True, "Fr 17:59": True,
                     "Sa 09:00": False, "Su 15:00": False}

OTHER = [
    ("Mo,We,Fr 10:00-12:00", {"Mo 10:00": True, "Tu 10:00": False, "We 11:00": True,
                              "Th 11:00": False, "Fr 11:59": True, "Fr 12:00": False}),
    ("周一、三、五 10:00-12:00", {"Mo 10:00": True, "Tu 10:00": False, "We 11:00": True, "Fr 11:59": True}),
    ("每天 8:00-22:00", {"Mo 08:00": True, "Su 21:59": True, "Su 22:00": False, "Sa 07:59": False}),
    # midnight crossing: Monday's 20:00-02:00 runs into Tuesday; Sunday's into Monday
    ("20:00-02:00", {"Mo 20:00": True, "Mo 19:59": False, "Tu 01:59": True, "Tu 02:00": False,
                     "Mo 01:00": True, "Su 23:59": True, "We 12:00": False}),
    ("周五 22:00-06:00", {"Fr 22:00": True, "Fr 21:59": False, "Sa 00:00": True, "Sa 05:59": True,
                        "Sa 06:00": False, "Fr 05:00": False, "Mo 01:00": False}),
    ("周日 22:00-02:00", {"Su 23:30": True, "Mo 01:00": True, "Mo 02:00": False,
                        "Su 21:59": False, "Sa 23:30": False, "Tu 01:00": False}),
    ("Su 22:00-02:00", {"Su 23:30": True, "Mo 01:00": True, "Mo 02:00": False}),
    ("20:00-24:00", {"Mo 23:59": True, "Tu 00:00": False, "Mo 19:59": False}),
    ("20:00-00:00", {"Mo 23:59": True, "Tu 00:00": False, "Mo 20:00": True}),
    # weekday ranges that wrap round the week end
    ("周六至周一 9:00-10:00", {"Sa 09:30": True, "Su 09:30": True, "Mo 09:30": True,
                            "Tu 09:30": False, "Fr 09:30": False, "Mo 10:00": False}),
    ("Sa-Mo 09:00-10:00", {"Sa 09:30": True, "Su 09:30": True, "Mo 09:30": True, "Tu 09:30": False}),
    # a later rule naming days replaces earlier ones on those days (OpenStreetMap semantics)
    ("每天 8:00-22:00；周日休息", {"Sa 08:00": True, "Su 10:00": False, "Mo 21:00": True}),
    ("Mo-Su 08:00-22:00; Su 10:00-16:00", {"Su 09:00": False, "Su 10:00": True, "Su 17:00": False,
                                           "Sa 09:00": True}),
    ("Mo-Fr 08:00-18:00; We off", {"We 10:00": False, "Tu 10:00": True, "Th 10:00": True}),
    ("Mo-Sa 20:00-02:00; Su off", {"Sa 23:00": True, "Su 01:00": True, "Su 23:00": False,
                                   "Mo 01:00": False}),
    ("周一至周五 8:30-17:30 周六、日 9:00-12:00", {"Mo 08:30": True, "Sa 11:00": True,
                                             "Su 12:00": False, "Fr 17:30": False}),
    ("8点半-下午5点半", {"Mo 08:29": False, "Mo 08:30": True, "Mo 17:29": True, "Mo 17:30": False}),
    ("晚上8点-12点", {"Mo 19:59": False, "Mo 20:00": True, "Mo 23:59": True, "Tu 00:00": False}),
    ("下午2点-5点", {"Mo 13:59": False, "Mo 14:00": True, "Mo 16:59": True, "Mo 17:00": False}),
    ("晚上8点-2点", {"Mo 20:00": True, "Tu 01:59": True, "Tu 02:00": False, "Tu 12:00": False}),
    ("周一至周五 24小时", {"Mo 00:00": True, "Fr 23:59": True, "Sa 00:00": False, "Su 12:00": False}),
    ("Mo-Fr 08:00-18:00; Sa,Su 全天", {"Mo 07:00": False, "Sa 03:00": True, "Su 23:59": True}),
]


@pytest.mark.parametrize("text", ALWAYS)
def test_always_open(text):
    oh = parse_hours(text)
    assert oh.always is True
    assert open_intervals(oh) == [(0, WEEK)]
    for spec in ("Mo 00:00", "We 12:34", "Su 23:59", "Sa 00:00"):
        assert oh.is_open(at(spec))


@pytest.mark.parametrize("text,spec,want",
                         cases(EVERY_DAY_8_20, EVERY_DAY_8_20_AT) + cases(WEEKDAYS_9_17, WEEKDAYS_9_17_AT)
                         + cases(WEEKEND_10_16, WEEKEND_10_16_AT) + cases(TWO_RULES, TWO_RULES_AT)
                         + cases(SPLIT_DAY, SPLIT_DAY_AT) + cases(WEEKDAYS_SPLIT, WEEKDAYS_SPLIT_AT)
                         + [c for text, exp in OTHER for c in cases([text], exp)])
def test_is_open(text, spec, want):
    oh = parse_hours(text)
    assert oh.is_open(at(spec)) is want
    assert is_open_at(text, at(spec)) is want
    m = minute_of_week(at(spec))
    assert any(a <= m < b for a, b in open_intervals(oh)) is want
    assert bool(oh.weekly_mask()[m]) is want
    assert oh.always is False


@pytest.mark.parametrize("text", EVERY_DAY_8_20 + WEEKDAYS_9_17 + TWO_RULES + [t for t, _ in OTHER])
def test_not_always(text):
    assert parse_hours(text).always is False


def test_rules_and_intervals():
    oh = parse_hours("周一至周五 8:00-18:00；周六 9:00-12:00")
    assert oh.text == "周一至周五 8:00-18:00；周六 9:00-12:00"
    assert oh.rules == (Rule(frozenset(range(5)), 480, 1080), Rule(frozenset({5}), 540, 720))
    assert open_intervals(oh) == [(d * 1440 + 480, d * 1440 + 1080) for d in range(5)] + [(5 * 1440 + 540, 5 * 1440 + 720)]
    # Sunday night wraps into Monday morning; the midnight-crossing rule is kept as written
    oh = parse_hours("周日 22:00-02:00")
    assert oh.rules == (Rule(frozenset({6}), 1320, 120),)
    assert open_intervals(oh) == [(0, 120), (6 * 1440 + 1320, WEEK)]
    # a daily midnight-crossing range merges into one interval per night
    assert open_intervals(parse_hours("20:00-02:00")) == (
        [(0, 120)] + [(d * 1440 + 1200, (d + 1) * 1440 + 120) for d in range(6)] + [(6 * 1440 + 1200, WEEK)])
    # touching ranges merge
    assert open_intervals(parse_hours("8:00-12:00, 12:00-18:00")) == [
        (d * 1440 + 480, d * 1440 + 1080) for d in range(7)]


def test_minute_of_week():
    assert minute_of_week(dt.datetime(2024, 1, 1, 0, 0)) == 0
    assert minute_of_week(dt.datetime(2024, 1, 1, 8, 30, 59)) == 510
    assert minute_of_week(dt.datetime(2024, 1, 7, 23, 59)) == WEEK - 1
    assert minute_of_week(dt.datetime(2024, 1, 8, 0, 0)) == 0
    # aware datetimes are converted to Asia/Shanghai (UTC+8) first
    assert minute_of_week(dt.datetime(2024, 1, 1, 0, 0, tzinfo=UTC)) == 480
    assert minute_of_week(dt.datetime(2024, 1, 7, 16, 30, tzinfo=UTC)) == 30  # Sunday UTC -> Monday Shanghai
    assert minute_of_week(dt.datetime(2024, 1, 7, 15, 59, tzinfo=UTC)) == WEEK - 1
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert minute_of_week(dt.datetime(2024, 1, 1, 9, 0, tzinfo=tokyo)) == 480


@pytest.mark.parametrize("utc,want", [
    (dt.datetime(2024, 1, 1, 0, 0), True),      # Mo 08:00 Shanghai
    (dt.datetime(2023, 12, 31, 23, 59), False),  # Mo 07:59 Shanghai
    (dt.datetime(2024, 1, 1, 11, 59), True),     # Mo 19:59
    (dt.datetime(2024, 1, 1, 12, 0), False),     # Mo 20:00
    (dt.datetime(2024, 7, 3, 3, 0), True),       # summer: still UTC+8 (no DST)
])
def test_aware_datetimes_converted(utc, want):
    assert parse_hours("08:00-20:00").is_open(utc.replace(tzinfo=UTC)) is want


@pytest.mark.parametrize("utc,want", [
    (dt.datetime(2024, 1, 7, 15, 30), True),   # Su 23:30 Shanghai
    (dt.datetime(2024, 1, 7, 17, 0), True),    # Mo 01:00 Shanghai
    (dt.datetime(2024, 1, 7, 18, 0), False),   # Mo 02:00 Shanghai
    (dt.datetime(2024, 1, 7, 13, 59), False),  # Su 21:59 Shanghai
])
def test_aware_midnight_crossing(utc, want):
    assert is_open_at("周日 22:00-02:00", utc.replace(tzinfo=UTC)) is want


@pytest.mark.parametrize("text", [None, "", "   ", "\n", float("nan")])
def test_unknown_hours(text):
    assert parse_hours(text) is None
    assert is_open_at(text, MONDAY) is None


@pytest.mark.parametrize("text", [
    "看情况", "8点到晚上", "25:00-26:00", "08:00-", "Mo-Xx 10:00-12:00", "10:00-10:00",
    "00:00-00:00", "8:60-9:00", "24:00-02:00", "08:00", "-20:00", "周一至周五", "周日休息", "off",
    "08:00-20:00 周末", "Mo-Fr 08:00-18:00; PH off", "节假日 9:00-12:00", "Jan-Mar 08:00-18:00",
    "8:00-20:00（节假日除外）", "9-17", ";", "开放", "周日休息；8:00-20:00", "08:00-20:00-22:00",
    "24小时？", "Mo 08:00-18:00 Tu",
])
def test_errors(text):
    with pytest.raises(HoursError) as info:
        parse_hours(text)
    msg = str(info.value)
    assert repr(text) in msg and "expected e.g." in msg and "周一至周五 9:00-17:00" in msg
    assert isinstance(info.value, ValueError)
    with pytest.raises(HoursError):
        is_open_at(text, MONDAY)


def test_error_reasons():
    def reason(text):
        with pytest.raises(HoursError) as info:
            parse_hours(text)
        return str(info.value)
    assert "unexpected '晚上'" in reason("8点到晚上")
    assert "'25:00' is not a valid time" in reason("25:00-26:00")
    assert "no end time" in reason("08:00-")
    assert "unexpected 'Xx'" in reason("Mo-Xx 10:00-12:00")
    assert "same time" in reason("10:00-10:00")
    assert "holidays" in reason("Mo-Fr 08:00-18:00; PH off")


def test_to_dict_is_json():
    oh = parse_hours("周五 22:00-06:00；周六 9:00-12:00")
    d = json.loads(json.dumps(oh.to_dict(), ensure_ascii=False))
    assert d == {"text": "周五 22:00-06:00；周六 9:00-12:00", "always": False,
                 "rules": [{"days": [4], "start": "22:00", "end": "06:00"},
                           {"days": [5], "start": "09:00", "end": "12:00"}],
                 "intervals": [[4 * 1440 + 1320, 5 * 1440 + 360], [5 * 1440 + 540, 5 * 1440 + 720]]}
    assert parse_hours("24/7").to_dict()["always"] is True


def test_parse_is_cached_and_hashable():
    a, b = parse_hours("08:00-20:00"), parse_hours("08:00-20:00")
    assert a == b and hash(a) == hash(b)
    assert isinstance(a, OpeningHours)


# ------------------------------------------------------------------ property-style
_TEXT_DAYS = ["", "每天 ", "Mo-Fr ", "周一至周五 ", "Sa-Mo ", "周六至周一 ", "周末 ", "工作日 ", "Mo,We,Fr ",
              "周二、周四 ", "Su ", "周日 ", "Fr-Tu ", "周五至周二 ", "Th "]


def _random_time(rng, *, end=False):
    if end and rng.random() < 0.1:
        return "24:00"
    m = rng.randrange(0, 1440, rng.choice([1, 15, 30, 60]))
    return f"{m // 60:02d}:{m % 60:02d}"


def _random_text(rng):
    parts = []
    for _ in range(rng.randint(1, 4)):
        spans = []
        for _ in range(rng.randint(1, 3)):
            start, end = _random_time(rng), _random_time(rng, end=True)
            while end == start or end == "00:00" and start == "00:00":
                end = _random_time(rng, end=True)
            spans.append(f"{start}-{end}")
        parts.append(rng.choice(_TEXT_DAYS) + rng.choice([" ", ", ", "，"]).join(spans))
    return rng.choice(["; ", "；", "\n"]).join(parts)


def _check_consistent(oh, rng):
    ivs = open_intervals(oh)
    assert ivs == sorted(ivs)
    assert all(0 <= a < b <= WEEK for a, b in ivs)
    assert all(b1 < a2 for (_, b1), (a2, _) in zip(ivs, ivs[1:]))  # merged: no overlap, no touching
    mask = oh.weekly_mask()
    assert len(mask) == WEEK and sum(mask) == sum(b - a for a, b in ivs)
    probes = {rng.randrange(WEEK) for _ in range(200)} | {0, WEEK - 1}
    probes |= {m % WEEK for a, b in ivs for m in (a - 1, a, b - 1, b)}
    for m in probes:
        inside = any(a <= m < b for a, b in ivs)
        naive = from_minute(m)
        assert minute_of_week(naive) == m
        assert oh.is_open(naive) is inside, (oh.text, m)
        assert oh.is_open(naive.replace(tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(UTC)) is inside
        assert mask[m] == inside


@pytest.mark.parametrize("seed", range(25))
def test_random_texts_is_open_matches_intervals(seed):
    rng = random.Random(seed)
    for _ in range(8):
        oh = parse_hours(_random_text(rng))
        _check_consistent(oh, rng)
        assert oh.always is (open_intervals(oh) == [(0, WEEK)])


@pytest.mark.parametrize("seed", range(25))
def test_random_rules_is_open_matches_intervals(seed):
    rng = random.Random(1000 + seed)
    for _ in range(8):
        rules = []
        for _ in range(rng.randint(1, 5)):
            days = frozenset(rng.sample(range(7), rng.randint(1, 7)))
            start = rng.randrange(1440)
            end = rng.choice([rng.randrange(1441), start, 1440])  # end <= start crosses midnight
            rules.append(Rule(days, start, end))
        _check_consistent(OpeningHours(text="", always=False, rules=tuple(rules)), rng)
