"""Compact page data of the sites: packed integer columns and dictionary-encoded text.

A map may carry hundreds of thousands of sites, and every byte of the page is read and
parsed by the browser before the map is usable, so :func:`site_payload` writes the sites
of one kind as columns, as small as plain JSON allows:

* coordinates as whole micro-degrees relative to the smallest, written as fixed-width
  base-81 digits in one string (:func:`pack_ints`): 3 characters per coordinate for a
  district instead of 10–11 (``"113.912345",``);
* low-cardinality columns (level, status, street, services, …) as their distinct values
  plus one packed code per row (usually one character); a column with a single value as
  that value; columns with mostly distinct values (name, code, phone) as plain lists.

The browser unpacks this once (``YZ.unpack`` / ``YZ.decodeSites`` in
``maps/static/yizhan``); :func:`decode_site_payload` is the Python twin, for tests and
debugging. Text values are raw (not escaped): the page carries them in a JSON block
written by :func:`maps.safe.json_for_script`, and the browser escapes them with ``YZ.esc``.
The packing alphabet has no character that is special in HTML, JSON, JavaScript or Jinja
(no quote, backslash, ``<``, ``>``, ``&``, brace, ``$`` or backtick).
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from maps.layers import (LEVEL_COLORS, SHAPES, SITE_FIELDS, STATUS_COLORS, UNKNOWN_COLOR, code_of, label_of,
                         points_xy, services_label)
from maps.safe import display_value

__all__ = ["ALPHABET", "pack_ints", "unpack_ints", "site_payload", "decode_site_payload", "PAYLOAD_VERSION"]

#: The 81 digits of packed integers: ``(`` to ``~`` without ``\\ < > { }`` and the backtick.
ALPHABET = "".join(c for c in map(chr, range(0x28, 0x7F)) if c not in "\\<>{}`")
_BASE = len(ALPHABET)
_DIGITS = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
_VALUE = np.full(128, -1, dtype=np.int64)
_VALUE[_DIGITS] = np.arange(_BASE)
#: Version of the page data format (``YZ.decodeSites`` checks it).
PAYLOAD_VERSION = 2
_TRANSLATED = ("kind", "level", "status")


def pack_ints(values, *, decimals: int = 0) -> dict:
    """Pack integers (or fixed-point numbers) into one string of fixed-width digits.

    Parameters
    ----------
    values : array-like of int or float
        The numbers. With ``decimals`` > 0 they are rounded to that many decimals first.
    decimals : int, default 0
        Decimal places kept (6 for coordinates: about 0.1 m).

    Returns
    -------
    dict
        ``{"o": offset, "w": width, "s": digits}`` plus ``"d": decimals`` when > 0: row
        ``k`` is ``(o + int(s[k*w:(k+1)*w], base 81)) / 10**d``.

    Raises
    ------
    ValueError
        For NaN or infinite values.

    Examples
    --------
    >>> pack_ints([5, 6, 90])
    {'o': 5, 'w': 2, 's': '((()),'}
    >>> unpack_ints(pack_ints([113.9123456, 113.95], decimals=6)).tolist()
    [113.912346, 113.95]
    """
    arr = np.asarray(values, dtype=float if decimals else np.int64)
    if decimals:
        if not np.isfinite(arr).all():
            raise ValueError("cannot pack NaN or infinite values")
        arr = np.rint(arr * 10.0 ** decimals).astype(np.int64)
    out: dict = {"o": int(arr.min()) if arr.size else 0}
    rel = arr - out["o"]
    top = int(rel.max()) if rel.size else 0
    width = 1
    while _BASE ** width <= top:
        width += 1
    powers = _BASE ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = _DIGITS[(rel[:, None] // powers) % _BASE]
    out["w"] = width
    out["s"] = digits.tobytes().decode("ascii")
    if decimals:
        out["d"] = int(decimals)
    return out


def unpack_ints(packed: dict) -> np.ndarray:
    """Inverse of :func:`pack_ints`.

    Parameters
    ----------
    packed : dict
        ``{"o", "w", "s"}`` and optionally ``"d"``.

    Returns
    -------
    numpy.ndarray
        int64 values, or floats when ``"d"`` is given.
    """
    width = int(packed["w"])
    raw = np.frombuffer(packed["s"].encode("ascii"), dtype=np.uint8).reshape(-1, width)
    vals = _VALUE[raw]
    if (vals < 0).any():
        raise ValueError("not a packed integer string")
    powers = _BASE ** np.arange(width - 1, -1, -1, dtype=np.int64)
    ints = int(packed["o"]) + vals @ powers
    dec = int(packed.get("d", 0))
    return np.round(ints / 10.0 ** dec, dec) if dec else ints


def _codes(series: pd.Series, fn) -> tuple[np.ndarray, list]:
    """Codes of a column's display texts (``-1`` = missing or empty) and the distinct texts.

    ``fn`` runs once per distinct raw value; raw values that display alike share a code.
    """
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # lists (e.g. services) are not hashable
        hashable = series.map(lambda v: tuple(v) if isinstance(v, (list, np.ndarray)) else v)
        codes, uniques = pd.factorize(hashable, use_na_sentinel=True)
    seen: dict[str, int] = {}
    remap = np.empty(len(uniques) + 1, dtype=np.int64)
    for j, u in enumerate(uniques.tolist()):
        text = fn(u)
        remap[j] = seen.setdefault(text, len(seen)) if text else -1
    remap[-1] = -1  # code -1 (missing) stays -1
    return remap[codes], list(seen)


def _column(codes: np.ndarray, texts: list):
    """The smallest JSON form of a text column given as codes into ``texts``."""
    n = len(codes)
    if len(texts) == 1 and (codes == 0).all():
        return {"c": texts[0]}
    if len(texts) * 2 <= n:
        return {"v": texts, "i": pack_ints(codes)}
    return np.array(texts + [None], dtype=object)[codes].tolist()


def site_payload(sites: gpd.GeoDataFrame, kind: str, labels: dict, *, gcj02: bool = False) -> dict:
    """Compact, column-oriented data of the sites of one kind for ``YZ.addSiteLayer``.

    Parameters
    ----------
    sites : GeoDataFrame
        Sites of this kind (WGS-84 points), columns as in :data:`maps.layers.SITE_FIELDS`
        plus ``name`` (all optional).
    kind : str
        The kind code (``love_station``, ``worker_home``, …).
    labels : dict
        From :func:`maps.layers.vocab_labels`.
    gcj02 : bool, default False
        Shift coordinates to GCJ-02 (for 高德 tiles).

    Returns
    -------
    dict
        ``v, kind, label, shape, n, nOpen, lon, lat, style, open, styles, name, statusCol,
        cols, fields``. ``lon``/``lat`` (6 decimals), ``style`` (index into ``styles``:
        colour and label of the level or stage) and ``open`` (1 = open) are packed with
        :func:`pack_ints`; ``name`` and each of ``cols`` is a list, ``{"c": value}`` (one
        value for all) or ``{"v": values, "i": packed codes}`` (``-1`` = missing).
        Text values are raw (not escaped). :func:`decode_site_payload` unpacks it.
    """
    n = len(sites)
    lon, lat = points_xy(sites)
    if gcj02 and n:
        from geo.engine.crs_gcj02_bd09 import from_wgs84

        lon, lat = from_wgs84(lon, lat, "gcj02")
    by_level = kind == "love_station"
    domain = "level" if by_level else "status"
    palette = LEVEL_COLORS if by_level else STATUS_COLORS
    raw = sites[domain] if domain in sites.columns else pd.Series([None] * n, index=sites.index, dtype=object)
    key_codes, keys = _codes(raw, lambda v: code_of(labels, domain, v))
    order = list(palette) + sorted(k for k in keys if k not in palette)
    present = [k for k in order if k in keys] + ([None] if (key_codes < 0).any() else [])
    where = {k: i for i, k in enumerate(present)}
    style = np.array([where[k] for k in keys] + [where.get(None, 0)], dtype=np.int64)[key_codes]
    styles = [{"key": k or "", "color": palette.get(k, UNKNOWN_COLOR),
               "label": labels.get(domain, {}).get(k, k) if k else "未填写"} for k in present]
    if "status" in sites.columns:
        st_codes, st = _codes(sites["status"], lambda v: code_of(labels, "status", v))
        is_open = np.array([s == "open" for s in st] + [True], dtype=np.int64)[st_codes]
    else:
        is_open = np.ones(n, dtype=np.int64)
    cols: dict = {}
    fields = []
    for col, zh in SITE_FIELDS:
        if col not in sites.columns:
            continue
        if col == "services":
            fn = lambda v: services_label(labels, v)  # noqa: E731
        elif col in _TRANSLATED:
            fn = lambda v, d=col: label_of(labels, d, v)  # noqa: E731
        else:
            fn = display_value
        codes, texts = _codes(sites[col], fn)
        if texts:
            cols[col] = _column(codes, texts)
            fields.append([col, zh])
    if "name" in sites.columns:
        name = _column(*_codes(sites["name"], display_value))
    else:
        name = {"c": None}
    return {
        "v": PAYLOAD_VERSION, "kind": kind, "label": label_of(labels, "kind", kind),
        "shape": SHAPES.get(kind, "diamond"), "n": n, "nOpen": int(is_open.sum()),
        "lon": pack_ints(lon, decimals=6), "lat": pack_ints(lat, decimals=6),
        "style": pack_ints(style), "open": pack_ints(is_open), "styles": styles,
        "name": name, "statusCol": "status" if "status" in cols else None, "cols": cols, "fields": fields,
    }


def _decode_column(col, n: int) -> list:
    if isinstance(col, list):
        return col
    if "c" in col:
        return [col["c"]] * n
    values = list(col["v"]) + [None]
    return [values[k] for k in unpack_ints(col["i"]).tolist()]


def decode_site_payload(payload: dict) -> dict:
    """Unpack :func:`site_payload` data into plain lists (what ``YZ.decodeSites`` does).

    Parameters
    ----------
    payload : dict
        Site data as written into the page.

    Returns
    -------
    dict
        The same keys; ``lon``, ``lat`` (floats), ``style``, ``open`` (ints), ``name`` and
        each column of ``cols`` as plain lists of length ``n`` (``None`` = missing).
    """
    n = int(payload["n"])
    out = dict(payload)
    for key in ("lon", "lat", "style", "open"):
        out[key] = unpack_ints(payload[key]).tolist() if n else []
    out["name"] = _decode_column(payload["name"], n)
    out["cols"] = {k: _decode_column(v, n) for k, v in payload["cols"].items()}
    return out
