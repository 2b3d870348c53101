"""Kinds, levels, statuses, services and demand categories are *data*, not code.

They live in the ``vocab`` table (seeded by the first migration from :data:`SEED`), each
with a code, a Chinese and an English label and a rank. Adding a kind such as
``childcare`` 爱心托管班 is ``yizhan vocab add kind childcare 爱心托管班`` — no code change.
Values in files and requests are accepted as codes or as either label.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

DOMAINS = ("kind", "level", "status", "service", "demand_category", "area_level")

#: (domain, code, Chinese label, English label, rank). Rank orders levels (higher = more
#: senior, used to tell an upgrade from a downgrade) and sorts everything else.
SEED: list[tuple[str, str, str, str, int]] = [
    ("kind", "love_station", "爱心驿站", "love station", 1),
    ("kind", "worker_home", "职工之家", "worker home", 2),
    ("level", "provincial_gov", "省政府级", "provincial government", 50),
    ("level", "provincial_union", "省总工会级", "provincial union", 40),
    ("level", "city_union", "市总工会级", "city union", 30),
    ("level", "district_union", "区总工会级", "district union", 20),
    ("level", "other", "其他", "other", 10),
    ("status", "planned", "规划", "planned", 1),
    ("status", "surveyed", "已调研", "surveyed", 2),
    ("status", "building", "建设中", "building", 3),
    ("status", "open", "已建成", "open", 4),
    ("status", "suspended", "暂停", "suspended", 5),
    ("status", "closed", "撤销", "closed", 6),
    ("service", "water", "饮水", "drinking water", 1),
    ("service", "hot_meal", "热饭", "hot meal", 2),
    ("service", "charging", "充电", "charging", 3),
    ("service", "toilet", "如厕", "toilet", 4),
    ("service", "rest", "休息", "rest", 5),
    ("service", "first_aid", "药箱", "first aid", 6),
    ("service", "wifi", "无线网络", "wifi", 7),
    ("service", "umbrella", "雨具", "umbrella", 8),
    ("service", "cooling", "防暑", "cooling", 9),
    ("service", "heating", "取暖", "heating", 10),
    ("demand_category", "delivery", "外卖配送站", "delivery station", 1),
    ("demand_category", "courier", "快递网点", "courier outlet", 2),
    ("demand_category", "sanitation", "环卫所", "sanitation depot", 3),
    ("demand_category", "taxi", "出租车/网约车点", "taxi stand", 4),
    ("demand_category", "construction", "建筑工地", "construction site", 5),
    ("demand_category", "other", "其他", "other", 9),
    ("area_level", "district", "区", "district", 1),
    ("area_level", "street", "街道", "street", 2),
    ("area_level", "community", "社区", "community", 3),
]

#: Extra spellings people write for status values.
SYNONYMS = {
    ("status", "运营"): "open", ("status", "运营中"): "open", ("status", "已建"): "open",
    ("status", "建成"): "open", ("status", "开放"): "open", ("status", "在建"): "building",
    ("status", "计划"): "planned", ("status", "调研"): "surveyed", ("status", "已撤销"): "closed",
    ("status", "关闭"): "closed", ("status", "停用"): "suspended",
    ("service", "热水"): "water", ("service", "饮用水"): "water", ("service", "微波炉"): "hot_meal",
    ("service", "加热"): "hot_meal", ("service", "厕所"): "toilet", ("service", "卫生间"): "toilet",
    ("service", "医药箱"): "first_aid", ("service", "急救"): "first_aid", ("service", "休息区"): "rest",
    ("service", "手机充电"): "charging", ("service", "电动车充电"): "charging",
    ("service", "降温"): "cooling", ("service", "空调"): "cooling", ("service", "暖气"): "heating",
    ("level", "区级"): "district_union", ("level", "市级"): "city_union",
    ("level", "省级"): "provincial_union", ("level", "省政府"): "provincial_gov",
}


@dataclass
class Vocabulary:
    """All vocabulary terms, loaded once per command or request from the database."""

    terms: dict[str, dict[str, dict]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows) -> "Vocabulary":
        v = cls({d: {} for d in DOMAINS})
        for r in rows:
            v.terms.setdefault(r.domain, {})[r.code] = {
                "code": r.code, "zh": r.label_zh, "en": r.label_en, "rank": r.rank}
        return v

    @classmethod
    def load(cls, conn: sa.Connection) -> "Vocabulary":
        from geo.store.tables import vocab
        return cls.from_rows(conn.execute(sa.select(vocab)).all())

    @classmethod
    def default(cls) -> "Vocabulary":
        rows = [type("R", (), dict(domain=d, code=c, label_zh=z, label_en=e, rank=r))
                for d, c, z, e, r in SEED]
        return cls.from_rows(rows)

    def codes(self, domain: str) -> list[str]:
        return sorted(self.terms.get(domain, {}), key=lambda c: (self.terms[domain][c]["rank"], c))

    def label(self, domain: str, code: str | None, lang: str = "zh") -> str:
        if code is None:
            return ""
        t = self.terms.get(domain, {}).get(code)
        return t[lang] if t else code

    def rank(self, domain: str, code: str | None) -> int:
        t = self.terms.get(domain, {}).get(code or "")
        return t["rank"] if t else 0

    def resolve(self, domain: str, value: str) -> str:
        """Return the code for ``value`` (a code or a label); ``ValueError`` when unknown."""
        s = str(value).strip()
        terms = self.terms.get(domain, {})
        if s in terms:
            return s
        low = s.lower().replace(" ", "_")
        for code, t in terms.items():
            if low in (code.lower(), t["en"].lower().replace(" ", "_")) or s == t["zh"]:
                return code
        if (domain, s) in SYNONYMS and SYNONYMS[(domain, s)] in terms:
            return SYNONYMS[(domain, s)]
        known = "、".join(f"{c} ({t['zh']})" for c, t in sorted(terms.items()))
        raise ValueError(f"unknown {domain} {s!r}; known: {known}")

    def resolve_services(self, value) -> list[str]:
        """Split a services cell on ``,``, ``，``, ``、``, ``;``, ``；`` or ``|`` and resolve each."""
        if value is None:
            return []
        if isinstance(value, (list, tuple)):
            parts = [str(p) for p in value]
        else:
            import re
            parts = re.split(r"[,，、;；|/]", str(value))
        out = []
        for p in parts:
            if p.strip():
                code = self.resolve("service", p)
                if code not in out:
                    out.append(code)
        return sorted(out, key=lambda c: (self.rank("service", c), c))
