"""Escaping for every value that reaches a map page.

Site names, addresses and notes come from spreadsheets and from the public. Folium puts
popup and tooltip HTML into JavaScript *template literals* (`` `…` ``), so a value can be
dangerous in two ways at once: as HTML (``<img src=x onerror=…>``) and as JavaScript
(a backtick ends the literal, ``${…}`` runs code, a backslash eats the next character,
``</script>`` ends the script element). Worse, branca re-compiles every rendered Folium
macro as a *Jinja template* on the server: ``{{ … }}`` in a popup or tooltip is evaluated
by Jinja when the page is built (server-side template injection, up to running code), so
braces must never reach Folium unescaped either.

:func:`html_text` escapes for both at the same time by using HTML character references
for every character that means something in any of these contexts: the result is plain
text in HTML, and contains no backtick, ``$``, backslash, ``<`` or brace.
:func:`popup_html` builds the Chinese popup tables the maps use, escaping every value
with :func:`html_text`. :func:`js_template_safe` is for raw text (not HTML) that is
placed inside a template literal. The browser-side twin of :func:`html_text` is
``YZ.esc`` in ``maps/static/yizhan/yizhan-map.js``; the tests check they agree.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["html_text", "js_template_safe", "popup_html", "display_value", "json_for_script", "EMPTY"]

#: What a popup shows for a missing value.
EMPTY = "—"

_HTML_REFS = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    "`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;",
}
_HTML_RE = re.compile("[" + re.escape("".join(_HTML_REFS)) + "]")


def display_value(value: Any) -> str:
    """Turn a cell value into display text (before escaping).

    Parameters
    ----------
    value : Any
        ``None``, NaN and empty strings become ``""``; lists, tuples and sets are joined
        with ``、``; floats that are whole numbers lose their ``.0``.

    Returns
    -------
    str
        The text to show.
    """
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "、".join(s for s in (display_value(v) for v in value) if s)
    try:  # pandas NA / NaT and numpy scalars
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, str):
        try:
            return display_value(value.item())
        except (TypeError, ValueError):
            pass
    return str(value)


def html_text(value: Any) -> str:
    """Escape a value as HTML text that is also inert inside a JavaScript template literal.

    Parameters
    ----------
    value : Any
        Any value; converted with :func:`display_value` first.

    Returns
    -------
    str
        The text with ``& < > " '``, the template-literal characters `` ` ``, ``$``,
        ``\\`` and the Jinja delimiters ``{ }`` replaced by character references
        (``&#96;``, ``&#36;``, ``&#92;``, ``&#123;``, ``&#125;``). Safe in element
        content, in quoted attributes, inside `` `…` `` in a script, and in Folium
        elements (which branca re-renders as Jinja templates).

    Examples
    --------
    >>> html_text('<img src=x onerror=alert(1)>')
    '&lt;img src=x onerror=alert(1)&gt;'
    >>> html_text('${alert(1)}`')
    '&#36;&#123;alert(1)&#125;&#96;'
    """
    return _HTML_RE.sub(lambda m: _HTML_REFS[m.group(0)], display_value(value))


def js_template_safe(value: Any) -> str:
    r"""Escape raw text for the inside of a JavaScript template literal in a ``<script>``.

    Parameters
    ----------
    value : Any
        Any value; converted with :func:`display_value` first.

    Returns
    -------
    str
        The text with ``\`` → ``\\``, backtick → ``\```, ``$`` → ``\x24``,
        ``{`` → ``\x7B``, ``}`` → ``\x7D`` (so no ``${…}`` substitution and no Jinja
        delimiter), ``<`` → ``\x3C`` (so ``</script>`` and ``<!--`` cannot end or confuse
        the script element), and U+2028/U+2029 escaped. Evaluated as a template literal,
        the result is exactly the original text. It is *not* HTML-escaped: when the
        literal's value is used as HTML, escape with :func:`html_text` first.
    """
    text = display_value(value)
    for raw, esc in _JS_TEMPLATE:
        text = text.replace(raw, esc)
    return text


_JS_TEMPLATE = [("\\", "\\\\"), ("`", "\\`"), ("$", "\\x24"), ("{", "\\x7B"), ("}", "\\x7D"),
                ("<", "\\x3C"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")]


def popup_html(title: Any, rows: Iterable[tuple[Any, Any]] | Mapping[Any, Any], *,
               skip_empty: bool = True, css_class: str = "yz-popup") -> str:
    """Build a popup: a title and a two-column table, every value escaped.

    Parameters
    ----------
    title : Any
        The heading (usually the site's name).
    rows : iterable of (label, value) or mapping
        Labels (Chinese, e.g. ``"地址"``) and values. Values may be lists (joined with
        ``、``), numbers or missing.
    skip_empty : bool, default True
        Leave out rows whose value is missing or empty; when False they show ``—``.
    css_class : str, default "yz-popup"
        Class of the outer ``div`` (letters, digits, ``-`` and ``_`` only).

    Returns
    -------
    str
        HTML that shows every value literally, whether inserted as HTML or placed in a
        template literal first (as Folium's ``Popup`` and ``Tooltip`` do). It contains no
        newline, backtick, ``$`` or backslash.

    Raises
    ------
    ValueError
        If ``css_class`` holds other characters.
    """
    if not re.fullmatch(r"[A-Za-z0-9_\- ]+", css_class):
        raise ValueError(f"css_class {css_class!r} must be letters, digits, '-', '_' or spaces")
    items = rows.items() if isinstance(rows, Mapping) else rows
    out = [f'<div class="{css_class}"><div class="yz-popup-title">{html_text(title)}</div><table>']
    for label, value in items:
        text = display_value(value)
        if not text:
            if skip_empty:
                continue
            text = EMPTY
        out.append(f"<tr><th>{html_text(label)}</th><td>{html_text(text)}</td></tr>")
    out.append("</table></div>")
    return "".join(out)


def json_for_script(obj: Any) -> str:
    """Serialise ``obj`` as JSON that can sit inside any ``<script>`` element.

    Parameters
    ----------
    obj : Any
        JSON-serialisable data (NaN is not allowed).

    Returns
    -------
    str
        Compact JSON with ``<``, ``>``, ``&``, U+2028 and U+2029 written as ``\\uXXXX``
        escapes, so neither ``</script>`` nor ``<!--`` can appear; braces inside strings are
        escaped too whenever they would form a Jinja delimiter (``{{``, ``{%``, ``{#``).
        Valid for ``JSON.parse`` and as a JavaScript expression.
    """
    import json

    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    if _JINJA_OPEN.search(text):  # compact JSON has none outside strings
        text = _JSON_STRING.sub(lambda m: m.group(0).replace("{", "\\u007b").replace("}", "\\u007d"), text)
    return text


_JINJA_OPEN = re.compile(r"\{[{%#]")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
