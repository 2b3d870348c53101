"""Opening hours (开放时间) as people write them in spreadsheets and in OpenStreetMap.

E.g. ``24小时``, ``24/7``, ``全天``, ``08:00-20:00``, ``8:00至20:00``, ``工作日 9:00-17:00``,
``周六、周日 10:00-14:00``, ``周一至周五 8:00-12:00 14:00-18:00``, ``Mo-Fr 08:00-18:00; Sa 09:00-12:00``.
A range ending at or before its start crosses midnight (``20:00-02:00``). A later rule naming days
replaces earlier rules on those days, as in OpenStreetMap (``每天 8:00-22:00；周日休息``); times
without days extend the rule before them (``周一至周五 8:00-12:00；14:00-18:00``). Anything else
raises :class:`HoursError`: unreadable text never means "always open". Times are Asia/Shanghai
local time; intervals are half-open, ``[start, end)``.
"""
from __future__ import annotations

import datetime as _dt
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from geo.engine.clock import zone

DAY = 1440
WEEK = 7 * DAY
EXAMPLES = "'08:00-20:00', '周一至周五 9:00-17:00', '24小时', 'Mo-Fr 08:00-18:00; Sa 09:00-12:00'"


class HoursError(ValueError):
    """Opening-hours text that cannot be read; the message says why and shows examples."""


class Rule(NamedTuple):
    """Open on ``days`` (0=Mon..6=Sun) from minute ``start`` to ``end`` (next day if <= start)."""

    days: frozenset
    start: int
    end: int


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def minute_of_week(when: _dt.datetime) -> int:
    """Minute of the week (0..10079, Monday 00:00 = 0) of ``when`` in the service's zone
    (``Settings.timezone``, Asia/Shanghai by default).

    Naive datetimes are taken as local time in that zone; aware ones are converted first.
    Seconds are dropped, so 19:59:59 falls in minute 19:59.
    """
    if when.tzinfo is not None and when.utcoffset() is not None:
        when = when.astimezone(zone())
    return when.weekday() * DAY + when.hour * 60 + when.minute


@dataclass(frozen=True)
class OpeningHours:
    """Parsed opening hours.

    Attributes
    ----------
    text : str
        The original text.
    always : bool
        True when open every minute of the week (24/7).
    rules : tuple of Rule
        ``(days, start_minute, end_minute)`` rules after later rules replaced earlier ones.
    """

    text: str
    always: bool
    rules: tuple[Rule, ...]

    def is_open(self, when: _dt.datetime) -> bool:
        """Whether open at ``when`` (naive = Shanghai local time; aware = converted)."""
        day, mod = divmod(minute_of_week(when), DAY)
        for r in self.rules:
            if r.end > r.start:
                if day in r.days and r.start <= mod < r.end:
                    return True
            elif (day in r.days and mod >= r.start) or ((day - 1) % 7 in r.days and mod < r.end):
                return True
        return False

    @functools.cached_property
    def intervals(self) -> tuple[tuple[int, int], ...]:
        """Sorted, merged half-open minute-of-week intervals (see :func:`open_intervals`)."""
        spans = []
        for r in self.rules:
            for d in r.days:
                if r.end > r.start:
                    spans.append((d * DAY + r.start, d * DAY + r.end))
                else:  # crosses midnight; Sunday night spills into Monday morning
                    nxt = (d + 1) % 7 * DAY
                    spans += [(d * DAY + r.start, (d + 1) * DAY), (nxt, nxt + r.end)]
        merged: list[tuple[int, int]] = []
        for a, b in sorted(sp for sp in spans if sp[0] < sp[1]):
            if merged and a <= merged[-1][1]:
                a, b = merged[-1][0], max(b, merged.pop()[1])
            merged.append((a, b))
        return tuple(merged)

    def weekly_mask(self) -> bytes:
        """10080 bytes, one per minute of the week (index: :func:`minute_of_week`), 1 = open.

        For many sites: ``numpy.frombuffer(oh.weekly_mask(), dtype=numpy.uint8).astype(bool)``.
        """
        mask = bytearray(WEEK)
        for a, b in self.intervals:
            mask[a:b] = b"\x01" * (b - a)
        return bytes(mask)

    def to_dict(self) -> dict:
        """JSON-able form: text, always, rules (days 0=Mon, ``HH:MM`` times) and intervals."""
        return {"text": self.text, "always": self.always,
                "rules": [{"days": sorted(r.days), "start": _hhmm(r.start), "end": _hhmm(r.end)}
                          for r in self.rules], "intervals": [list(iv) for iv in self.intervals]}


def open_intervals(oh: OpeningHours) -> list[tuple[int, int]]:
    """Half-open minute-of-week intervals ``[a, b)`` when ``oh`` is open.

    Ranges crossing midnight are split (Sunday night continues on Monday morning);
    the result is sorted and merged, each interval within ``[0, 10080)``.
    """
    return list(oh.intervals)


# ---------------------------------------------------------------- tokenizer
_EN_DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
_TOKENS = re.compile(r"""
  (?P<ws>[^\S\n\r]+)
| (?P<rsep>[;\n\r|。])
| (?P<always>24\s*/\s*7|7\s*[x×*]\s*24(?:\s*(?:小时|h))?|24\s*[x×*]\s*7
     |全天(?:24\s*(?:小时|h))?(?:开放|营业)?|24\s*(?:小时|h)(?:全天)?(?:开放|营业)?(?![a-z]))
| (?P<holiday>ph|sh|法定节假日|节假日|假日|节日)(?![a-z])
| (?P<off>off|closed|休息|闭馆|休馆|关闭|不开放|停业|停止开放)(?![a-z])
| (?P<group>每天|每日|天天|daily|工作日|周末|双休日)
| (?P<day>(?:周|星期|礼拜)[一二三四五六日天1-7]
     |(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?
        |sat(?:urday)?|sun(?:day)?|mo|tu|we|th|fr|sa|su)(?![a-z]))
| (?P<bareday>[一二三四五六日天])
| (?P<time>(?P<ampm>上午|早上|中午|下午|晚上)?\s*
     (?:(?P<h>\d{1,2})(?::(?P<m>\d{2})|点(?:(?P<half>半)|(?P<pm>\d{1,2})分?)?)
       |(?P<h4>\d{2})(?P<m4>\d{2}))(?!\d))
| (?P<range>[-~—–―−]|至|到)
| (?P<lsep>[,、]|和|及|与)
| (?P<filler>(?:开放|营业|服务|办公)?时间|开放|营业|:)
""", re.VERBOSE | re.IGNORECASE)


def _fail(text: str, reason: str) -> HoursError:
    return HoursError(f"cannot read opening hours {text!r} ({reason}; expected e.g. {EXAMPLES})")


def _tokens(text: str) -> list[tuple[str, object, str]]:
    """``(kind, value, raw)`` tokens of ``text``, ending with an ``("end", None, ...)`` sentinel."""
    norm, out, pos = unicodedata.normalize("NFKC", text), [], 0
    while pos < len(norm):
        mt = _TOKENS.match(norm, pos)
        if not mt:
            raise _fail(text, f"unexpected {norm[pos:].split()[0][:8]!r}")
        kind, raw, pos, value = mt.lastgroup, mt.group(0).strip(), mt.end(), None
        if kind == "time":
            g = mt.groupdict()
            h = int(g["h"] if g["h"] is not None else g["h4"])
            m = 30 if g["half"] else int(g["m"] or g["pm"] or g["m4"] or 0)
            if g["ampm"] in ("下午", "晚上") and 1 <= h <= 11 or g["ampm"] == "中午" and 1 <= h <= 5:
                h += 12
            elif g["ampm"] == "晚上" and h == 12:
                h = 24
            if m > 59 or h > 24 or (h == 24 and m):
                raise _fail(text, f"{raw!r} is not a valid time (00:00 to 24:00)")
            value = h * 60 + m
        elif kind in ("day", "bareday"):
            c = raw.lower()
            value = (_EN_DAYS.index(c[:2]) if c[0].isascii() else int(c[-1]) - 1 if c[-1].isdigit()
                     else min("一二三四五六日天".index(c[-1]), 6))
        elif kind == "group":
            value = {"工作日": range(5), "周末": (5, 6), "双休日": (5, 6)}.get(raw, range(7))
        elif kind == "holiday":
            raise _fail(text, "public holidays (PH/节假日) are not supported")
        if kind not in ("ws", "filler"):
            out.append((kind, value, raw))
    return out + [("end", None, "end of text")]


# ---------------------------------------------------------------- parser
def _parse_days(text: str, toks: list, i: int) -> tuple[set[int], int]:
    """Weekdays from ``toks[i]`` on: ``周一至周五``, ``Mo,We,Fr``, ``周六、日``, ``周末``."""
    days: set[int] = set()
    while True:
        kind, value, raw = toks[i]
        if kind == "group":
            days.update(value)
            i += 1
        elif kind == "day" or (kind == "bareday" and days):
            is_range = toks[i + 1][0] == "range" and toks[i + 2][0] in ("day", "bareday")
            last = toks[i + 2][1] if is_range else value  # ranges wrap: 周六至周一 = Sa, Su, Mo
            days.update((value + k) % 7 for k in range((last - value) % 7 + 1))
            i += 3 if is_range else 1
        else:
            raise _fail(text, f"expected a weekday, got {raw!r}")
        if toks[i][0] == "lsep" and toks[i + 1][0] in ("day", "bareday", "group"):
            i += 1
        elif toks[i][0] != "bareday":
            return days, i


def _parse_spans(text: str, toks: list, i: int) -> tuple[list[tuple[int, int]], int]:
    """Time ranges from ``toks[i]`` on: ``8:00-12:00 14:00-18:00``, ``8:00-12:00, 14:00-18:00``."""
    spans = []
    while True:
        first = toks[i][2]
        if toks[i + 1][0] != "range":
            raise _fail(text, f"time {first!r} is not part of a range like 08:00-20:00")
        if toks[i + 2][0] != "time":
            raise _fail(text, f"the range starting at {first!r} has no end time")
        start, end = toks[i][1], toks[i + 2][1]
        if toks[i][2][:2] in ("下午", "晚上") and toks[i + 2][2][0].isdigit() and end < start:
            end += 720 if start < end + 720 <= DAY else 0  # 下午2点-5点 = 14:00-17:00
        if start == DAY or start == end:
            raise _fail(text, "24:00 can only end a range" if start == DAY
                        else f"{_hhmm(start)}-{_hhmm(end)} opens and closes at the same time")
        spans.append((start, end or DAY))
        i += 3
        if toks[i][0] == "lsep" and toks[i + 1][0] == "time":
            i += 1
        if toks[i][0] != "time":
            return spans, i


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> OpeningHours:
    toks, i = _tokens(text), 0
    groups: list[tuple[set[int], list[tuple[int, int]], bool]] = []  # days, spans, closed
    while toks[i][0] != "end":
        if toks[i][0] in ("rsep", "lsep"):
            i += 1
            continue
        days = None
        if toks[i][0] in ("day", "group"):
            days, i = _parse_days(text, toks, i)
            if toks[i][0] == "end":
                raise _fail(text, "weekdays without opening times")
        kind, _, raw = toks[i]
        if kind == "always":
            spans, closed, i = [(0, DAY)], False, i + 1
        elif kind == "off" and days is not None:
            spans, closed, i = [], True, i + 1
        elif kind == "time":
            (spans, i), closed = _parse_spans(text, toks, i), False
        else:
            raise _fail(text, f"unexpected {raw!r}")
        if days is None and groups:  # times without days extend the rule before them
            if groups[-1][2]:
                raise _fail(text, "times after a closed day need their own weekdays")
            groups[-1][1].extend(spans)
            continue
        days = set(range(7)) if days is None else days
        for g in groups:  # a rule naming days replaces earlier rules on those days
            g[0].difference_update(days)
        groups.append((days, spans, closed))
    rules = tuple(Rule(frozenset(d), s, e) for d, spans, _ in groups if d for s, e in spans)
    if not rules:
        raise _fail(text, "no opening times found")
    always = OpeningHours(text, False, rules).intervals == ((0, WEEK),)
    return OpeningHours(text=text, always=always, rules=rules)


def parse_hours(text: str | None) -> OpeningHours | None:
    """Parse opening-hours text.

    Parameters
    ----------
    text : str or None
        E.g. ``'周一至周五 8:00-18:00；周六 9:00-12:00'`` or ``'Mo-Fr 08:00-18:00'``.

    Returns
    -------
    OpeningHours or None
        ``None`` when ``text`` is None, NaN, empty or blank (hours unknown).

    Raises
    ------
    HoursError
        When the text cannot be read; the message says why.
    """
    if text is None or text != text or not str(text).strip():  # text != text: NaN from pandas
        return None
    return _parse(str(text))


def is_open_at(text: str | None, when: _dt.datetime) -> bool | None:
    """Whether hours ``text`` are open at ``when``; ``None`` when the hours are unknown."""
    oh = parse_hours(text)
    return None if oh is None else oh.is_open(when)
