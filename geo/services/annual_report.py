"""Annual site-count report: exact counts as of any date, replayed from the site history.

All history is loaded in one query (:class:`SiteHistory`) and replayed in pandas, so a
report over 200,000 sites takes seconds. The result of :func:`annual_report` is a plain,
JSON-able dict; :mod:`geo.services.report_render` turns it into Markdown, HTML, XLSX, CSV or JSON.

Definitions (:data:`DEFINITIONS`, copied into every report): *built* 已建成 = status
``open`` or ``suspended`` on the date (planned, surveyed, building and closed are not);
*opened in the year* = the site's first change to ``open`` falls in the year, so a site
closed and reopened counts once; *upgraded* = a level change to a higher vocabulary rank;
*closed* = a status change to ``closed``; worker-home stages: ``surveyed`` 已调研,
``planned``/``building`` 规划/建设中 (the sentence's 在建), ``open``/``suspended`` 已建成.
Streets and communities are the sites' current placement (not replayed). When streets are
loaded, a site outside every street is listed (``data_quality.without_street``, with why)
but not counted in any district figure; coverage still lets it cover demand. Built sites
without an opening date count from their import day; ``notes`` says how many there are.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa

from geo.errors import InputError
from geo.store.tables import areas, demand, site_history, sites
from geo.services.report_quality import data_quality, notes, outside_streets
from geo.store.sites import CREATED
from geo.store.vocab import Vocabulary

BUILT = ("open", "suspended")
#: Worker-home stages: (code, Chinese label, statuses).
STAGES = (("surveyed", "已调研", ("surveyed",)), ("planning", "规划/建设中", ("planned", "building")),
          ("built", "已建成", BUILT))
#: Levels the union's sentence always names, even when zero.
SENTENCE_LEVELS = ("provincial_gov", "provincial_union", "city_union")
#: Replayed fields (``location`` is split into ``lon`` and ``lat``).
TEXT_FIELDS = ("kind", "level", "status", "name", "opened_on", "closed_on", "opening_hours", "services")
FIELDS = TEXT_FIELDS + ("lon", "lat")
NO_LEVEL, NO_LEVEL_ZH = "none", "未定级"
NO_AREA = "未划分"
LIST_LIMIT = 200  #: longest site list kept in a section (the count is always exact)
DEFINITIONS = {
    "built": "已建成：统计日状态为已建成(open)或暂停(suspended)的站点；规划、已调研、建设中、撤销的不计。",
    "opened_in_year": "年内新建：站点首次变为已建成的生效日期在本年内；撤销后恢复的只计一次（按首次建成）。",
    "upgraded_in_year": "年内升级：本年内生效、升至更高级别的级别变更。",
    "closed_in_year": "年内撤销：本年内生效的撤销。",
    "worker_homes_by_stage": "职工之家阶段：已调研=surveyed；规划/建设中(在建)=planned、building；已建成=open、suspended。",
    "street": "街道、社区按站点当前位置所在区域统计。",
    "outside": "已导入街道区划时，不在任何街道内的站点单独列出（数据质量明细），不计入全区合计及各表；覆盖率仍计入其服务。",
    "undated": "未填建成日期的已建成站点，按导入日期计为建成；其数量见附注与数据质量。",
}


def _history_select(conn) -> sa.Select:
    """One SELECT of all applied history; the database extracts the fields of ``_created``
    snapshots (much faster than 200,000 Python dicts; ``services`` stays JSON text)."""
    h = site_history.c
    is_created = h.field == CREATED
    if conn.dialect.name == "sqlite":
        snap = [sa.func.json_extract(h.new_value, f"$.{f}") for f in TEXT_FIELDS] + [
            sa.cast(sa.func.json_extract(h.new_value, f"$.location[{i}]"), sa.Float) for i in (0, 1)]
        snap, src = [sa.case((is_created, c)) for c in snap], site_history
    else:  # parse each snapshot once: OFFSET 0 keeps PostgreSQL from inlining the cast per field
        from sqlalchemy.dialects.postgresql import JSONB
        lat = (sa.select(sa.case((is_created, sa.cast(h.new_value, JSONB))).label("j")).offset(0)
               .correlate(site_history).lateral())
        snap = [lat.c.j[f].astext for f in TEXT_FIELDS] + [
            sa.cast(lat.c.j[("location", str(i))].astext, sa.Float) for i in (0, 1)]
        src = site_history.join(lat, sa.true())
    return (sa.select(h.site_id, h.id, h.field, sa.type_coerce(h.effective_on, sa.String),
                      sa.case((is_created, None), else_=h.new_value), *snap).select_from(src)
            .where(h.outcome == "applied", h.field.in_((CREATED, "location") + TEXT_FIELDS))
            .order_by(h.site_id, h.effective_on, h.id))


class SiteHistory:
    """Every applied history row of every site (one query) and states replayed from it.

    Replays exactly like :func:`geo.store.sites.replay`: rows in ``(effective_on, id)`` order,
    rows before a site's ``_created`` row ignored, a later ``_created`` row resets the state.
    Dates are days since 1970-01-01 (``eff``); ``key`` orders rows like ``(effective_on, id)``.
    """

    def __init__(self, base: pd.DataFrame, changes: pd.DataFrame, meta: pd.DataFrame):
        self.base, self.changes, self.meta = base, changes, meta

    @classmethod
    def load(cls, conn: sa.Connection, *, until: dt.date | None = None) -> "SiteHistory":
        """Load history rows effective on or before ``until`` (all when ``None``)."""
        q = _history_select(conn)
        rows = conn.execute(q if until is None else q.where(site_history.c.effective_on <= until)).all()
        cols = [np.array(c, dtype=object) for c in zip(*rows)] if rows else [np.array([])] * 15
        eff = np.array(cols[3], dtype="datetime64[D]").astype("int64")
        df = pd.DataFrame({"site_id": cols[0].astype("int64"), "eff": eff,
                           "key": eff * 10**10 + cols[1].astype("int64")})
        created = cols[2] == CREATED
        snaps = pd.concat([df[created].reset_index(drop=True), pd.DataFrame(
            {f: c[created] for f, c in zip(FIELDS, cols[5:])}, dtype=object)], axis=1)
        snaps["lon"], snaps["lat"] = (snaps[f].astype("float64") for f in ("lon", "lat"))
        first = ~snaps.site_id.duplicated().to_numpy()
        base = snaps[first].set_index("site_id")
        ch = df[~created].assign(field=cols[2][~created],
                                 value=pd.Series(orjson.loads("[" + ",".join(  # one parser call
                                     v or "null" for v in cols[4][~created]) + "]"), dtype=object).to_numpy())
        loc = ch[ch.field.to_numpy() == "location"]
        xy = [[(p or (None, None))[i] for p in loc.value] for i in (0, 1)]
        resets = snaps[~first].melt(id_vars=["site_id", "eff", "key"], var_name="field")
        changes = pd.concat([ch[ch.field.to_numpy() != "location"], loc.assign(field="lon", value=xy[0]),
                             loc.assign(field="lat", value=xy[1]), resets], ignore_index=True)
        bkey = changes.site_id.map(base.key)
        changes = changes[bkey.notna().to_numpy() & (changes.key > bkey).to_numpy()]
        changes = changes.sort_values(["site_id", "key"], kind="stable").reset_index(drop=True)
        st, cm = areas.alias("st"), areas.alias("cm")
        mrows = conn.execute(
            sa.select(sites.c.id, sites.c.code, st.c.code, st.c.name, cm.c.code, cm.c.name)
            .select_from(sites.outerjoin(st, st.c.id == sites.c.street_id)
                         .outerjoin(cm, cm.c.id == sites.c.community_id))).all()
        meta = pd.DataFrame([tuple(r) for r in mrows], dtype=object, columns=[
            "id", "code", "street_code", "street", "community_code", "community"])
        return cls(base, changes, meta.set_index(meta.id.astype("int64")).drop(columns="id"))

    def state(self, as_of: dt.date, *, fields=FIELDS) -> pd.DataFrame:
        """Replayed ``fields`` of every site existing on ``as_of``, indexed by site id."""
        d = _days(as_of)
        st = self.base.loc[self.base.eff.to_numpy() <= d, list(fields)].copy()
        c = self.changes[(self.changes.eff.to_numpy() <= d) & self.changes.field.isin(fields).to_numpy()]
        last = c.drop_duplicates(["site_id", "field"], keep="last")
        for f, g in last.groupby("field", sort=False):
            pos = st.index.get_indexer(g.site_id)
            arr = st[f].to_numpy(dtype=object, copy=True)
            arr[pos[pos >= 0]] = g.value.to_numpy(dtype=object)[pos >= 0]
            st[f] = arr
        st.index.name = "id"
        return st

    def without(self, site_ids) -> "SiteHistory":
        """The same history without some sites."""
        def keep(index):
            return ~np.isin(np.asarray(index, dtype="int64"), np.asarray(list(site_ids), dtype="int64"))
        return SiteHistory(self.base[keep(self.base.index)], self.changes[keep(self.changes.site_id)],
                           self.meta[keep(self.meta.index)])

    def transitions(self, field: str) -> pd.DataFrame:
        """Real changes of a field (``site_id, eff, prev, value``); ``prev`` NaN on creation."""
        b = self.base
        s0 = pd.DataFrame({"site_id": b.index, "eff": b.eff.to_numpy(), "key": b.key.to_numpy(),
                           "value": b[field].to_numpy(dtype=object)})
        c = self.changes.loc[self.changes.field.to_numpy() == field, list(s0.columns)]
        s = pd.concat([s0, c], ignore_index=True).sort_values(["site_id", "key"], kind="stable")
        s["prev"] = s.groupby("site_id").value.shift()
        return s[~s.site_id.duplicated() | (s.value.fillna("\0") != s.prev.fillna("\0"))].reset_index(drop=True)

    def frame(self, as_of: dt.date, *, kind: str | None = None) -> pd.DataFrame:
        """Tidy states as of a date joined to codes and street/community names."""
        st = self.state(as_of)
        df = (st if kind is None else st[st.kind.to_numpy() == kind]).join(self.meta, how="left")
        df[["lon", "lat"]] = df[["lon", "lat"]].astype("float64")
        for f in ("opened_on", "closed_on"):
            df[f] = np.array([dt.date.fromisoformat(v) if isinstance(v, str) and v else None
                              for v in df[f]], dtype=object)
        sv = df.services.to_numpy(dtype=object)  # JSON text from snapshots, lists from changes
        it = iter(orjson.loads("[" + ",".join(v for v in sv if isinstance(v, str)) + "]"))
        df["services"] = [next(it) if isinstance(v, str) else (v or []) for v in sv]
        cols = ["code", "name", "kind", "level", "status", "street", "community", "opened_on",
                "closed_on", "services", "opening_hours", "lon", "lat", "street_code", "community_code"]
        return df[cols].sort_index().reset_index()


def states_as_of(conn: sa.Connection, as_of: dt.date, *, kind: str | None = None) -> pd.DataFrame:
    """One row per site existing on ``as_of`` with its replayed state.

    Parameters
    ----------
    conn : sqlalchemy.Connection
    as_of : datetime.date
        Changes effective on this day are included.
    kind : str, optional
        Only sites of this kind (as of the date).

    Returns
    -------
    pandas.DataFrame
        Columns ``id, code, name, kind, level, status, street, community, opened_on,
        closed_on, services, opening_hours, lon, lat, street_code, community_code``.
    """
    return SiteHistory.load(conn, until=as_of).frame(as_of, kind=kind)


def _days(d: dt.date) -> int:
    return int(np.datetime64(d, "D").astype("int64"))


def _date(days) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(days))


def _when(d: dt.date) -> str:
    return f"{d.year}年底" if (d.month, d.day) == (12, 31) else f"{d.year}年{d.month}月{d.day}日"


def make_sentence(as_of: dt.date, *, built: int, by_level: list[dict], worker_homes: dict,
                  other_kinds: list[tuple[str, int]] = ()) -> str:
    """The work-summary sentence (levels in :data:`SENTENCE_LEVELS` always, others when > 0)."""
    parts = [f"{r['level_zh']}{r['built']}个" for r in by_level if r["level"] in SENTENCE_LEVELS or r["built"]]
    s = f"截至{_when(as_of)}，全区已建成爱心驿站{built}个"
    s += ("，其中" + "、".join(parts)) if parts else ""
    s += (f"；建成新时代职工之家{worker_homes['built']}个，在建{worker_homes['planning']}个，"
          f"已调研{worker_homes['surveyed']}个")
    return s + "".join(f"；建成{label}{n}个" for label, n in other_kinds if n) + "。"


def _order(vocab: Vocabulary, domain: str, present, *, senior_first=False) -> list[str]:
    codes = sorted(vocab.terms.get(domain, {}), key=lambda c: ((-1) ** senior_first * vocab.rank(domain, c), c))
    extra = {v for v in pd.unique(np.asarray(present, dtype=object)) if isinstance(v, str)}
    return codes + sorted(extra - set(codes))


def _counts(values: pd.Series, keys: list[str]) -> dict[str, int]:
    vc = values.value_counts()
    return {k: int(vc.get(k, 0)) for k in keys}


def _entries(df: pd.DataFrame, ids, **cols) -> list[dict]:
    """Site entries (id, code, name, kind, level, street + ``cols``) for a list section."""
    sub = df.reindex(list(ids)[:LIST_LIMIT])
    return [{"id": int(sid), "code": r.code, "name": r["name"], "kind": r.kind, "level": r.level,
             "street": r.street if isinstance(r.street, str) else None}
            | {c: (v[k].isoformat() if isinstance(v[k], dt.date) else v[k]) for c, v in cols.items()}
            for k, (sid, r) in enumerate(sub.iterrows())]


def _by_area(conn, cur, built, level: str, levels, kinds) -> list[dict]:
    """Built sites per street or community (every loaded area, plus 未划分 when needed)."""
    a, p = areas.alias("a"), areas.alias("p")
    rows = conn.execute(sa.select(a.c.code, a.c.name, p.c.name).select_from(
        a.outerjoin(p, p.c.id == a.c.parent_id)).where(a.c.level == level).order_by(a.c.code)).all()
    df = cur[built].assign(area=cur[f"{level}_code"].fillna(""))
    lc = df[df.kind == "love_station"].groupby(["area", "level"]).size()
    kc = df.groupby(["area", "kind"]).size()
    rows += [("", NO_AREA, None)] * int((df.area == "").any())
    return [{f"{level}_code": c, level: name} | ({"street": parent} if level == "community" else {})
            | {"levels": {lv: int(lc.get((c, lv), 0)) for lv in levels},
               "built": {k: int(kc.get((c, k), 0)) for k in kinds}} for c, name, parent in rows]


def _coverage(conn, cur, built, radius_m: float) -> dict | None:
    from geo.engine.coverage import covered_from_sites
    rows = conn.execute(sa.select(demand.c.lon, demand.c.lat, demand.c.weight)).all()
    if not rows:
        return None
    lon, lat, w = (np.array(c, dtype="float64") for c in zip(*rows))
    st = cur[built & (cur.kind == "love_station") & np.isfinite(cur.lon)]
    cov = covered_from_sites(lon, lat, st.lon.to_numpy(), st.lat.to_numpy(), radius_m=radius_m)
    total, hit = float(w.sum()), float(w[cov].sum())
    return {"radius_m": float(radius_m), "kind": "love_station", "sites": int(len(st)),
            "demand_points": int(len(w)), "demand_weight": total, "covered_weight": hit,
            "coverage_rate": round(hit / total, 4) if total else None}


def annual_report(conn: sa.Connection, *, year: int, as_of: dt.date | None = None,
                  by_community: bool = False, radius_m: float | None = None,
                  duplicate_m: float = 20.0) -> dict:
    """The annual site-count report as a JSON-able dict.

    Parameters
    ----------
    conn : sqlalchemy.Connection
    year : int
        Report year.
    as_of : datetime.date, optional
        Count date, within ``year``; default 31 December of ``year``.
    by_community : bool, optional
        Also count built sites per community (``by_community``).
    radius_m : float, optional
        With demand loaded: share of demand weight within this geodesic distance of a
        built love station (``coverage``); otherwise ``coverage`` is ``None``.
    duplicate_m : float, optional
        Distance under which two similarly named sites are reported as suspected duplicates.

    Returns
    -------
    dict
        Sections ``totals, by_level, by_status, by_street, by_community, opened_in_year,
        upgraded_in_year, closed_in_year, previous_year, worker_homes_by_stage, coverage,
        data_quality, cumulative_by_year, sentence`` (see the module docstring).

    Raises
    ------
    InputError
        ``as_of`` outside ``year`` or a non-positive ``radius_m``.
    """
    as_of = as_of or dt.date(year, 12, 31)
    if as_of.year != year:
        raise InputError(f"as_of {as_of} is not in {year}", field="as_of")
    if radius_m is not None and not radius_m > 0:
        raise InputError(f"radius must be positive, not {radius_m}", field="radius")
    start, prev_date = _days(dt.date(year, 1, 1)), dt.date(year - 1, 12, 31)
    vocab = Vocabulary.load(conn)
    hist = SiteHistory.load(conn, until=as_of)
    full = hist.frame(as_of)
    outside = outside_streets(conn, full)  # listed, not counted in the district's figures
    if outside["excluded"]:
        hist = hist.without(outside["ids"])
    cur = full[~full.id.isin(outside["ids"] if outside["excluded"] else [])].reset_index(drop=True)
    cur["level"] = cur.level.fillna(NO_LEVEL)
    built = cur.status.isin(BUILT)
    kinds = _order(vocab, "kind", cur.kind)
    love_lv = cur.level[(cur.kind == "love_station").to_numpy()]
    levels = [lv for lv in _order(vocab, "level", love_lv, senior_first=True) if lv != NO_LEVEL]
    levels += [NO_LEVEL] * int((love_lv == NO_LEVEL).any())
    statuses = _order(vocab, "status", cur.status)
    labels = {"kind": {k: vocab.label("kind", k) for k in kinds},
              "level": {lv: vocab.label("level", lv) for lv in levels} | {NO_LEVEL: NO_LEVEL_ZH},
              "status": {s: vocab.label("status", s) for s in statuses},
              "stage": {c: zh for c, zh, _ in STAGES}}

    def summary(df):  # one hash pass over (kind, status, level), then a small loop
        out = {"kinds": dict.fromkeys(kinds, 0), "levels": dict.fromkeys(levels, 0),
               "stages": {c: 0 for c, _, _ in STAGES}}
        vc = pd.DataFrame({"k": df.kind, "s": df.status, "l": df.level.fillna(NO_LEVEL)}).value_counts()
        for (k, s, lv), n in vc.items():
            out["kinds"][k] = out["kinds"].get(k, 0) + int(n) * (s in BUILT)
            if s in BUILT and k == "love_station" and lv in out["levels"]:
                out["levels"][lv] += int(n)
            for c, _, sts in STAGES:
                out["stages"][c] += int(n) * (k == "worker_home" and s in sts)
        return out

    now, prv = summary(cur), summary(hist.state(prev_date, fields=("kind", "level", "status")))
    r = {"report": "annual", "year": year, "as_of": as_of.isoformat(),
         "year_end": (as_of.month, as_of.day) == (12, 31), "title": f"{year}年度站点统计报告",
         "definitions": DEFINITIONS, "labels": labels,
         "totals": [{"kind": k, "kind_zh": labels["kind"][k], "built": now["kinds"][k]} for k in kinds],
         "by_level": [{"level": lv, "level_zh": labels["level"][lv], "built": now["levels"][lv]}
                      for lv in levels],
         "by_status": [{"kind": k, "kind_zh": labels["kind"][k],
                        "counts": _counts(cur[cur.kind == k].status, statuses),
                        "total": int((cur.kind == k).sum())} for k in kinds],
         "by_street": _by_area(conn, cur, built, "street", levels, kinds),
         "by_community": _by_area(conn, cur, built, "community", levels, kinds) if by_community else None}
    ids = cur.set_index("id")
    st = hist.transitions("status")
    first_open = st[st.value == "open"].groupby("site_id").eff.min()
    opened = first_open[first_open >= start].sort_values(kind="stable")
    op = ids.reindex(opened.index)
    r["opened_in_year"] = {"count": len(opened), "by_kind": _counts(op.kind, kinds),
        "by_level": _counts(op[op.kind == "love_station"].level, levels),
        "sites": _entries(ids, opened.index, date=[_date(d) for d in opened])}
    lt = hist.transitions("level")
    rank = {lv: vocab.rank("level", lv) for lv in set(lt.value.dropna()) | set(lt.prev.dropna())}
    up = lt[(lt.eff >= start) & lt.prev.notna() & lt.value.notna()]
    up = up[up.value.map(rank).to_numpy() > up.prev.map(rank).to_numpy()].sort_values(["eff", "site_id"])
    pairs = up.groupby(["prev", "value"], sort=False).size()
    r["upgraded_in_year"] = {
        "count": int(up.site_id.nunique()), "changes": len(up),
        "by_change": [{"from": a, "from_zh": vocab.label("level", a), "to": b,
                       "to_zh": vocab.label("level", b), "count": int(n)} for (a, b), n in pairs.items()],
        "sites": _entries(ids, up.site_id, date=[_date(d) for d in up.eff],
                          **{"from": list(up.prev), "to": list(up.value)})}
    cl = st[(st.eff >= start) & (st.value == "closed") & st.prev.notna()].sort_values(["eff", "site_id"])
    r["closed_in_year"] = {"count": int(cl.site_id.nunique()),
                           "by_kind": _counts(ids.reindex(cl.site_id).kind, kinds),
        "sites": _entries(ids, cl.site_id, date=[_date(d) for d in cl.eff],
                          from_status=list(cl.prev))}
    items = ([("kinds", k, None, None, labels["kind"][k] + "（已建成）") for k in kinds]
             + [("levels", "love_station", lv, None, "爱心驿站·" + labels["level"][lv]) for lv in levels]
             + [("stages", "worker_home", None, c, "职工之家·" + zh) for c, zh, _ in STAGES])
    r["previous_year"] = {"as_of": prev_date.isoformat(), "rows": [
        {"kind": kind, "level": lv, "stage": stage, "label": label,
         "current": now[sec][lv or stage or kind], "previous": prv[sec][lv or stage or kind],
         "delta": now[sec][lv or stage or kind] - prv[sec][lv or stage or kind]}
        for sec, kind, lv, stage, label in items]}
    r["worker_homes_by_stage"] = [{"stage": c, "stage_zh": zh, "statuses": list(sts),
                                   "count": now["stages"][c]} for c, zh, sts in STAGES]
    r["coverage"] = _coverage(conn, full, full.status.isin(BUILT), radius_m) if radius_m else None
    r["data_quality"] = data_quality(ids, built, outside, duplicate_m, _entries)
    r["notes"] = notes(r["data_quality"], outside)
    r["cumulative_by_year"] = []
    for y in range(_date(hist.base.eff.min()).year if len(hist.base) else year, year + 1):
        d = as_of if y == year else dt.date(y, 12, 31)
        c = summary(hist.state(d, fields=("kind", "level", "status")))
        r["cumulative_by_year"].append({"year": y, "as_of": d.isoformat(), "built": c["kinds"].get(
            "love_station", 0), "by_level": c["levels"], "by_kind": c["kinds"]})
    others = [(labels["kind"][k], now["kinds"][k]) for k in kinds if k not in ("love_station", "worker_home")]
    r["sentence"] = make_sentence(as_of, built=now["kinds"].get("love_station", 0), by_level=r["by_level"],
                                  worker_homes=now["stages"], other_kinds=others)
    return r
