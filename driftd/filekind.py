"""What a path is when it is not a regular file: one wording for every "not a regular file".

>>> import os
>>> describe(os.stat("/").st_mode)
'a directory'
"""

from __future__ import annotations

import stat

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def describe(mode: int) -> str:
    """``mode``'s file type in words, with its article."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a special file"
