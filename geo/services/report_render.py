"""The annual report (:func:`geo.services.annual_report.annual_report`) as Markdown, HTML, XLSX, CSV and JSON.

Every format is built from the report dict alone (no database), so the numbers in each
format are the JSON report's numbers. Charts are drawn with matplotlib's Agg canvas (no
pyplot, no global backend switch) with a CJK font (``Noto Sans CJK SC`` from Debian's
``fonts-noto-cjk``) so that Chinese labels render.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import glob
import html
import io
import json
import warnings
from dataclasses import dataclass
from functools import lru_cache

from geo.ingest.spreadsheet import append_row, csv_text, put_cell

CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC")
_FONT_GLOBS = ("/usr/share/fonts/**/NotoSansCJK*", "/usr/share/fonts/**/wqy*",
               "/usr/local/share/fonts/**/*CJK*", "/Library/Fonts/*.tt[cf]", "C:/Windows/Fonts/sim*.tt[cf]")
LEVEL_COLORS = ("#c0392b", "#e67e22", "#2e86c1", "#27ae60", "#8e44ad", "#7f8c8d", "#16a085", "#d4ac0d")
CHART_TITLES = {"by_street": "各街道已建成爱心驿站（按级别）", "cumulative": "历年已建成爱心驿站（年末）"}


@dataclass
class Table:
    """One table of the report: ``name`` (section id), ``sheet`` (XLSX sheet), ``title``."""

    name: str
    sheet: str
    title: str
    headers: list[str]
    rows: list[list]
    note: str = ""


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Name of an installed CJK font, registering system fonts matplotlib has not cached."""
    from matplotlib import font_manager as fm

    if not set(CJK_FONTS) & {f.name for f in fm.fontManager.ttflist}:  # cache older than the font?
        for path in (p for g in _FONT_GLOBS for p in glob.glob(g, recursive=True)):
            with contextlib.suppress(Exception):  # an unreadable font file is skipped
                fm.fontManager.addfont(path)
    name = next((n for n in CJK_FONTS if n in {f.name for f in fm.fontManager.ttflist}), None)
    if name is None:
        warnings.warn("no CJK font found (apt-get install fonts-noto-cjk): chart labels will "
                      "not render", stacklevel=2)
    return name


def _png(draw) -> bytes:
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    font = cjk_font()
    rc = {"font.family": "sans-serif", "axes.unicode_minus": False,
          "font.sans-serif": ([font] if font else []) + ["DejaVu Sans"]}
    with rc_context(rc):
        fig = Figure(figsize=(8, 4.5), dpi=120, layout="constrained")
        draw(fig.add_subplot())
        buf = io.BytesIO()
        FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


def _when(r: dict) -> str:
    d = dt.date.fromisoformat(r["as_of"])
    return f"{d.year}年底" if r["year_end"] else f"{d.year}年{d.month}月{d.day}日"


def charts_png(r: dict) -> dict[str, bytes]:
    """PNG charts: ``by_street`` (built love stations per street, stacked by level) and
    ``cumulative`` (built love stations at each year's end, total and per level)."""
    lv_label = r["labels"]["level"]
    levels = [row["level"] for row in r["by_level"]]
    colors = dict(zip(levels, LEVEL_COLORS * 4))

    def by_street(ax):
        rows = r["by_street"]
        names = [row["street"] for row in rows]
        bottom = [0] * len(rows)
        for lv in levels:
            vals = [row["levels"].get(lv, 0) for row in rows]
            if any(vals):
                ax.bar(names, vals, bottom=bottom, label=lv_label[lv], color=colors[lv])
                bottom = [b + v for b, v in zip(bottom, vals)]
        for x, total in enumerate(bottom):
            ax.annotate(str(total), (x, total), ha="center", va="bottom", fontsize=9)
        ax.set(title=f"截至{_when(r)}{CHART_TITLES['by_street']}", ylabel="站点数（个）")
        ax.tick_params(axis="x", labelrotation=30 if len(rows) > 6 else 0)
        ax.margins(y=0.12)
        if any(bottom):
            ax.legend(fontsize=8)

    def cumulative(ax):
        rows = r["cumulative_by_year"]
        years = [row["year"] for row in rows]
        totals = [row["built"] for row in rows]
        ax.plot(years, totals, marker="o", color="#c0392b", linewidth=2.2, label="合计")
        for y, v in zip(years, totals):
            ax.annotate(str(v), (y, v), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=9)
        for lv in levels:
            vals = [row["by_level"].get(lv, 0) for row in rows]
            if any(vals):
                ax.plot(years, vals, marker=".", linestyle="--", linewidth=1, color=colors[lv],
                        label=lv_label[lv])
        ax.set_xticks(years, [str(y) for y in years])
        ax.set(title=CHART_TITLES["cumulative"], ylabel="站点数（个）", ylim=(0, max(totals + [1]) * 1.15))
        ax.legend(fontsize=8)

    return {"by_street": _png(by_street), "cumulative": _png(cumulative)}


def _sites_table(name, sheet, title, sec, r, cols) -> Table:
    L = r["labels"]
    lab = {"kind": L["kind"], "level": L["level"], "from": L["level"], "to": L["level"],
           "from_status": L["status"]}
    rows = [[lab[k].get(s.get(k), s.get(k)) if k in lab else s.get(k) for k, _ in cols]
            for s in sec["sites"]]
    note = f"共{sec['count']}个，列出前{len(rows)}个" if sec.get("count", 0) > len(rows) else ""
    return Table(name, sheet, title, [h for _, h in cols], rows, note)


def tables(r: dict) -> list[Table]:
    """The report's tables, in order, with Chinese headers and labels."""
    L = r["labels"]
    levels = [row["level"] for row in r["by_level"]]
    kinds = [row["kind"] for row in r["totals"]]
    statuses, lv_h = list(L["status"]), [L["level"][lv] for lv in levels]
    kd_h = [f"{L['kind'][k]}合计" if k == "love_station" else L["kind"][k] for k in kinds]
    out = [
        Table("totals", "总量", f"截至{_when(r)}已建成站点（按类型）", ["类型", "已建成"],
              [[row["kind_zh"], row["built"]] for row in r["totals"]], "；".join(r.get("notes") or [])),
        Table("by_level", "按级别", "已建成爱心驿站（按级别）", ["级别", "已建成"],
              [[row["level_zh"], row["built"]] for row in r["by_level"]]),
        Table("by_status", "按状态", "站点（按状态）", ["类型"] + [L["status"][s] for s in statuses] + ["合计"],
              [[row["kind_zh"]] + [row["counts"].get(s, 0) for s in statuses] + [row["total"]]
               for row in r["by_status"]]),
        Table("by_street", "按街道", "已建成站点（按街道；级别列为爱心驿站）", ["街道"] + lv_h + kd_h,
              [[row["street"]] + [row["levels"][lv] for lv in levels] + [row["built"][k] for k in kinds]
               for row in r["by_street"]]),
    ]
    if r.get("by_community") is not None:
        out.append(Table("by_community", "按社区", "已建成站点（按社区；级别列为爱心驿站）",
                         ["街道", "社区"] + lv_h + kd_h,
                         [[row["street"], row["community"]] + [row["levels"][lv] for lv in levels]
                          + [row["built"][k] for k in kinds] for row in r["by_community"]]))
    py = r["previous_year"]
    out += [
        Table("previous_year", "同比", f"与上年末（{py['as_of']}）比较", ["项目", "本期", "上年末", "增减"],
              [[row["label"], row["current"], row["previous"], row["delta"]] for row in py["rows"]]),
        Table("worker_homes_by_stage", "职工之家", "职工之家（按阶段）", ["阶段", "数量"],
              [[row["stage_zh"], row["count"]] for row in r["worker_homes_by_stage"]]),
        _sites_table("opened_in_year", "年内新建", f"{r['year']}年内新建站点", r["opened_in_year"], r,
                     [("code", "编号"), ("name", "名称"), ("kind", "类型"), ("level", "级别"),
                      ("street", "街道"), ("date", "建成日期")]),
        _sites_table("upgraded_in_year", "年内升级", f"{r['year']}年内升级站点", r["upgraded_in_year"], r,
                     [("code", "编号"), ("name", "名称"), ("from", "原级别"), ("to", "新级别"),
                      ("street", "街道"), ("date", "生效日期")]),
        _sites_table("closed_in_year", "年内撤销", f"{r['year']}年内撤销站点", r["closed_in_year"], r,
                     [("code", "编号"), ("name", "名称"), ("kind", "类型"), ("level", "级别"),
                      ("from_status", "原状态"), ("date", "撤销日期")]),
        Table("cumulative_by_year", "历年累计", "历年已建成爱心驿站（年末；本年为统计日）",
              ["年份", "统计日", "爱心驿站"] + lv_h,
              [[row["year"], row["as_of"], row["built"]] + [row["by_level"].get(lv, 0) for lv in levels]
               for row in r["cumulative_by_year"]]),
    ]
    cov = r.get("coverage")
    if cov:
        out.append(Table("coverage", "需求覆盖", f"户外劳动者需求覆盖（{cov['radius_m']:g} 米内有已建成爱心驿站）",
                         ["指标", "数值"],
                         [["半径（米）", cov["radius_m"]], ["已建成爱心驿站（个）", cov["sites"]],
                          ["需求点（个）", cov["demand_points"]], ["户外劳动者（人）", cov["demand_weight"]],
                          ["覆盖人数", cov["covered_weight"]], ["覆盖率", cov["coverage_rate"]]]))
    dq = r["data_quality"]
    names = {"without_street": "未落入任何街道", "missing_opening_hours": "已建成但缺开放时间",
             "undated_built": "已建成但未填建成日期（按导入日期计）",
             "suspected_duplicates": f"疑似重复（{dq['suspected_duplicates']['within_m']:g} 米内名称相近）"}
    detail = [[names[k], s["code"], s["name"], s.get("why", "")] for k in list(names)[:3] for s in dq[k]["sites"]]
    detail += [[names["suspected_duplicates"], p["code"], p["name"],
                f"与 {p['other_code']} {p['other_name']} 相距 {p['distance_m']:g} 米"]
               for p in dq["suspected_duplicates"]["pairs"]]
    out += [Table("data_quality", "数据质量", "数据质量", ["问题", "数量"],
                  [[names[k], dq[k]["count"]] for k in names]),
            Table("data_quality_detail", "质量明细", "数据质量明细", ["问题", "编号", "名称", "说明"], detail)]
    return out


def _cell(v) -> str:
    return "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def report_to_markdown(r: dict, *, chart_links: dict[str, str] | None = None) -> str:
    """The report as Markdown: title, sentence, every table, definitions.

    Parameters
    ----------
    r : dict
        A report from :func:`geo.services.annual_report.annual_report`.
    chart_links : dict, optional
        ``{"by_street": path, "cumulative": path}``: image links to PNGs saved from
        :func:`charts_png` (e.g. for the README).
    """
    lines = [f"# {r['title']}", "", f"统计日：{r['as_of']}", "", f"> {r['sentence']}", ""]
    for name, link in (chart_links or {}).items():
        lines += [f"![{CHART_TITLES.get(name, name)}]({link})", ""]
    for t in tables(r):
        lines += [f"## {t.title}", ""] + ([t.note, ""] if t.note else [])
        if not t.rows:
            lines += ["（无）", ""]
            continue
        esc = [[_cell(v).replace("|", "\\|") for v in row] for row in t.rows]
        lines += ["| " + " | ".join(t.headers) + " |",
                  "|" + "|".join("---:" if isinstance(v, (int, float)) else "---" for v in t.rows[0]) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in esc] + [""]
    lines += ["## 口径说明", ""] + [f"- {v}" for v in r["definitions"].values()]
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;
max-width:960px;padding:0 1em;color:#222}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;
border-left:4px solid #c0392b;padding-left:.5em}blockquote{background:#fdf2f0;border-left:4px solid #c0392b;
margin:1em 0;padding:.8em 1em;font-size:1.1em;line-height:1.7}table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.3em .6em}th{background:#f4f4f4}td.n{text-align:right}
img{max-width:100%;height:auto}.note{color:#666;font-size:.9em}"""


def report_to_html(r: dict) -> str:
    """A self-contained HTML page (inline CSS, charts as base64 PNG, no external resources)."""
    e = html.escape
    png = charts_png(r)
    parts = [f"<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             f"<title>{e(r['title'])}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(r['title'])}</h1><p>统计日：{e(r['as_of'])}</p>",
             f"<blockquote id=\"sentence\">{e(r['sentence'])}</blockquote>"]
    for name, data in png.items():
        parts.append(f"<figure><img id=\"chart-{name}\" alt=\"{e(CHART_TITLES[name])}\" "
                     f"src=\"data:image/png;base64,{base64.b64encode(data).decode()}\"></figure>")
    for t in tables(r):
        parts.append(f"<h2>{e(t.title)}</h2>" + (f"<p class=\"note\">{e(t.note)}</p>" if t.note else ""))
        if not t.rows:
            parts.append("<p>（无）</p>")
            continue
        head = "".join(f"<th>{e(h)}</th>" for h in t.headers)
        body = "".join("<tr>" + "".join(
            f"<td class=\"n\">{_cell(v)}</td>" if isinstance(v, (int, float)) else f"<td>{e(_cell(v))}</td>"
            for v in row) + "</tr>" for row in t.rows)
        parts.append(f"<table id=\"{t.name}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("<h2>口径说明</h2><ul>" + "".join(f"<li>{e(v)}</li>" for v in r["definitions"].values())
                 + "</ul></body></html>")
    return "\n".join(parts)


def report_to_xlsx(r: dict, path) -> None:
    """Write the report as an XLSX workbook.

    Sheets: 摘要 (title, dates, sentence, definitions), one sheet per table of :func:`tables`
    (Chinese headers, numbers as numbers, dates as dates) and 图表 (both charts as images).

    Parameters
    ----------
    r : dict
        A report from :func:`geo.services.annual_report.annual_report`.
    path : str, pathlib.Path or binary file object
        Where to write.
    """
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "摘要"
    bold = Font(bold=True)
    append_row(ws, [r["title"]])
    ws["A1"].font = Font(bold=True, size=14)
    for k, v in (("统计日", dt.date.fromisoformat(r["as_of"])),
                 ("上年末", dt.date.fromisoformat(r["previous_year"]["as_of"])), ("说明", r["sentence"])):
        append_row(ws, [k, v])
    ws.append([])
    append_row(ws, ["口径说明"])
    for v in r["definitions"].values():
        append_row(ws, ["", v])
    ws["B2"].number_format = ws["B3"].number_format = "yyyy-mm-dd"
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 12, 100
    ws["B4"].alignment = Alignment(wrap_text=True)
    fill = PatternFill("solid", fgColor="F4F4F4")
    for t in tables(r):
        sh = wb.create_sheet(t.sheet)
        append_row(sh, t.headers)
        for c in sh[1]:
            c.font, c.fill = bold, fill
        for row in t.rows:
            append_row(sh, [_xlsx_value(v) for v in row])
        for cell in (c for row in sh.iter_rows(min_row=2) for c in row if isinstance(c.value, dt.date)):
            cell.number_format = "yyyy-mm-dd"
        for i, h in enumerate(t.headers, start=1):
            width = max([len(str(h))] + [len(_cell(row[i - 1])) for row in t.rows[:500]])
            sh.column_dimensions[sh.cell(1, i).column_letter].width = min(60, 4 + 1.8 * width)
        sh.freeze_panes = "A2"
        if t.note:
            put_cell(sh, 1, len(t.headers) + 2, t.note)
    ch = wb.create_sheet("图表")
    for k, data in enumerate(charts_png(r).values()):
        ch.add_image(Image(io.BytesIO(data)), f"A{1 + 28 * k}")
    wb.save(path)


def _xlsx_value(v):
    """ISO dates (``YYYY-MM-DD``) become real dates; everything else is kept."""
    try:
        return dt.date.fromisoformat(v) if isinstance(v, str) and len(v) == 10 and v[4] == "-" else v
    except ValueError:
        return v


def csv_rows(r: dict) -> list[tuple]:
    """Long rows ``(section, key, level, value)``. ``level`` is the level code, or the second
    dimension of sections without levels (status, stage, measure); empty when there is none."""
    out = [("totals", t["kind"], "", t["built"]) for t in r["totals"]]
    out += [("by_level", "love_station", t["level"], t["built"]) for t in r["by_level"]]
    out += [("by_status", t["kind"], s, n) for t in r["by_status"] for s, n in t["counts"].items()]
    for sec, keyf in (("by_street", lambda a: a["street"]),
                      ("by_community", lambda a: f"{a['street']}/{a['community']}")):
        for a in r.get(sec) or []:
            out += [(sec, keyf(a), lv, n) for lv, n in a["levels"].items()]
            out += [(f"{sec}_built", keyf(a), k, n) for k, n in a["built"].items()]
    for sec in ("opened_in_year", "closed_in_year"):
        out += [(sec, "", "", r[sec]["count"])] + [(sec, k, "", n) for k, n in r[sec]["by_kind"].items()]
    out += [("opened_in_year", "love_station", lv, n) for lv, n in r["opened_in_year"]["by_level"].items()]
    up = r["upgraded_in_year"]
    out += [("upgraded_in_year", "", "", up["count"])]
    out += [("upgraded_in_year", c["from"], c["to"], c["count"]) for c in up["by_change"]]
    for row in r["previous_year"]["rows"]:
        sub = row["level"] or row["stage"] or ""
        out += [("previous_year", row["kind"], sub, row["previous"]),
                ("previous_year_delta", row["kind"], sub, row["delta"])]
    out += [("worker_homes_by_stage", "worker_home", s["stage"], s["count"]) for s in r["worker_homes_by_stage"]]
    for c in r["cumulative_by_year"]:
        out += [("cumulative_by_year", str(c["year"]), "", c["built"])]
        out += [("cumulative_by_year", str(c["year"]), lv, n) for lv, n in c["by_level"].items()]
    for k, v in (r.get("coverage") or {}).items():
        if isinstance(v, (int, float)):
            out.append(("coverage", k, "", v))
    out += [("data_quality", k, "", v["count"]) for k, v in r["data_quality"].items()]
    return out


def report_to_csv(r: dict, *, bom: bool = False) -> str:
    """Long-format CSV ``section,key,level,value`` (see :func:`csv_rows`); ``bom`` for Excel."""
    return csv_text(["section", "key", "level", "value"], csv_rows(r), bom=bom)


def report_to_json(r: dict) -> bytes:
    """UTF-8 JSON (Chinese unescaped)."""
    return json.dumps(r, ensure_ascii=False, indent=2).encode("utf-8")


#: format → (media type, file suffix)
FORMATS = {"json": ("application/json", "json"), "csv": ("text/csv; charset=utf-8", "csv"),
           "md": ("text/markdown; charset=utf-8", "md"), "html": ("text/html; charset=utf-8", "html"),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")}


def render(r: dict, fmt: str) -> bytes:
    """The report as bytes, for the CLI and the API.

    Parameters
    ----------
    r : dict
        A report from :func:`geo.services.annual_report.annual_report`.
    fmt : str
        One of :data:`FORMATS`; ``csv`` starts with a BOM so that Excel reads it as UTF-8.
    """
    if fmt == "xlsx":
        buf = io.BytesIO()
        report_to_xlsx(r, buf)
        return buf.getvalue()
    makers = {"json": report_to_json, "csv": lambda r: report_to_csv(r, bom=True).encode("utf-8"),
              "md": lambda r: report_to_markdown(r).encode("utf-8"),
              "html": lambda r: report_to_html(r).encode("utf-8")}
    if fmt not in makers:
        raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    return makers[fmt](r)
