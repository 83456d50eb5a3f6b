"""Untrusted text made safe for a terminal. Stdlib only.

Reasons, model and feature names, file paths and column names come from users and data. Printed
as they are, a control character or an ANSI escape in them reaches the operator's terminal: it
can clear the screen, recolour text, or forge a line of ``driftd status`` with a newline. Every
text output (the CLI's results and errors, and the log lines) therefore escapes them, and caps
the length of any one value. JSON output is exact and needs neither: ``json.dumps`` writes
every control character as ``\\uXXXX``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# C0 and C1 controls and DEL; the line and paragraph separators; and the bidirectional
# overrides and isolates, which reorder what a terminal shows ("Trojan Source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Longest value printed whole in text output: the longest reasons, paths and messages driftd
# writes itself are a few hundred characters; --json prints every value whole.
MAX_TEXT = 1000


def escape(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` safe to print: control characters shown as escapes, and at most ``limit`` of
    its characters (the rest counted).

    >>> escape("ok\\x1b[2J\\nfake line")
    'ok\\\\x1b[2J\\\\nfake line'
    >>> escape("x" * 12, limit=5)
    'xxxxx... (7 more characters not shown)'
    """
    more = len(text) - limit
    if more > 0:
        text = text[:limit]
    text = _UNSAFE.sub(_escape_one, text)
    return f"{text}... ({more} more characters not shown)" if more > 0 else text


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(value: Any) -> Any:
    """``value`` with every string in it (keys too) passed through :func:`escape`.

    >>> terminal_safe({"reason": "a\\rb", "n": [1, "\\x07"]})
    {'reason': 'a\\\\rb', 'n': [1, '\\\\x07']}
    """
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, Mapping):
        return {terminal_safe(k): terminal_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [terminal_safe(v) for v in value]
    return value
