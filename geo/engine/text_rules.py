"""Text that comes from outside: which characters are refused, and safe identifiers."""
from __future__ import annotations

import re

#: C0 control characters except tab, newline and carriage return; DEL; the C1 set.
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_CONTROL = re.compile(CONTROL_RE)
#: vocabulary codes become OGC collection ids, URL parts and CSS classes
CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def control_character(text: str) -> str | None:
    """``"contains the control character U+0001; remove it"`` when ``text`` holds one, else None."""
    m = _CONTROL.search(text)
    return None if m is None else f"contains the control character U+{ord(m.group()):04X}; remove it"


def check_code(code: str) -> str | None:
    """Why ``code`` is not a safe vocabulary code, or None."""
    if CODE_RE.fullmatch(code):
        return None
    return (f"{code!r} is not a valid code: use 1 to 32 lower-case letters, digits and _, "
            "starting with a letter")
