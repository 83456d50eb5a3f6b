"""``driftd report``: one self-contained static HTML file per report, charts drawn as SVG here.

Why server-side SVG from our own small functions rather than a charting library: no runtime
dependency; a size bounded by the stored summaries (a 100-feature, 50-check model is about
1 MB); and an instant load, since the browser draws finished SVG instead of running a
library's JavaScript (Vega-Lite through altair would inline about 800 KB of it and lay out
200 charts in the browser on every open).

- :mod:`summarize`: the bounded per-feature summary a check stores (migration 0004);
- :mod:`svg`, :mod:`charts`: drawing; :mod:`timelines`, :mod:`check`, :mod:`page`: the document.

Pure functions from plain data to text; :func:`write_atomic` is the one that touches a file.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def write_atomic(path: Path | str, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` (``-``: stdout) through a temporary file and ``os.replace``,
    so a reader (a browser, a web server) sees the old report or the new one, never half.
    The daemon passes its :class:`driftd.permissions.Access` file mode. A file that cannot be
    written is a :class:`~driftd.errors.DriftdError` naming it."""
    if str(path) == "-":
        sys.stdout.write(text)
        return
    from driftd.errors import DriftdError

    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:  # a missing or unwritable directory: one line, not a traceback
        raise DriftdError(f"{target}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, mode)  # set explicitly, never left to mkstemp's 0600 or the umask
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DriftdError(f"{target}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
