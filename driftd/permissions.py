"""File modes and group ownership of everything driftd writes: one rule, applied everywhere.

Without ``group`` in the config, files are 0600 and directories 0700: only the daemon's user
reads the registry and the artifacts. With ``group = "name"``, files are 0640 and directories
0750 **and** owned by that group, and directories carry the setgid bit so that files created in
them later (SQLite's ``-wal``/``-shm``, artifacts written by the training child) inherit the
group without a ``chown``.

Modes are set explicitly (``chmod`` after creation), never left to the process umask. The group
is applied with ``chown(path, -1, gid)``, which Linux allows to the file's owner for a group it
belongs to (and to root for any group); where it is not permitted the mode is still set and the
group is left as it is. Only paths this process created, or files this user owns, are touched:
a directory that already existed (``/var/lib/driftd`` made by systemd) keeps its mode.

The training child runs with :func:`umask` applied, so what it writes gets the same modes.

>>> Access().file_mode == 0o600, Access("ops").dir_mode == 0o2750
(True, True)
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from driftd.errors import ConfigError, DriftdError

FILE_MODE = 0o600
GROUP_FILE_MODE = 0o640
DIR_MODE = 0o700
GROUP_DIR_MODE = 0o750


@dataclass(frozen=True, slots=True)
class Access:
    """Who may read what driftd writes: the owner only, or also the members of ``group``.

    ``group_readable`` without a ``group`` name gives the group modes but neither ``chown`` nor
    setgid (the group is then whatever the process runs as, e.g. systemd's ``Group=``).
    """

    group: str | None = None
    group_readable: bool = False

    @property
    def readable(self) -> bool:
        return self.group is not None or self.group_readable

    @property
    def file_mode(self) -> int:
        return GROUP_FILE_MODE if self.readable else FILE_MODE

    @property
    def dir_mode(self) -> int:
        """With a named group, setgid too: new entries inherit the directory's group."""
        if self.group is not None:
            return GROUP_DIR_MODE | stat.S_ISGID
        return GROUP_DIR_MODE if self.readable else DIR_MODE

    @property
    def umask(self) -> int:
        """The umask that gives files written with 0666 exactly :attr:`file_mode`.

        >>> oct(Access().umask), oct(Access("ops").umask)
        ('0o77', '0o27')
        """
        return 0o027 if self.readable else 0o077

    def gid(self) -> int | None:
        """The group's id; ConfigError when no such group exists on this host."""
        if self.group is None:
            return None
        return group_id(self.group)


@functools.lru_cache(maxsize=8)  # looked up per file written; NSS may be slow (LDAP)
def group_id(name: str) -> int:
    """The id of group ``name`` (a number is taken as an id); ConfigError when unknown.

    >>> group_id("0")
    0
    """
    import grp

    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ConfigError([f"group: no group named {name!r} on this host"]) from None


def make_dirs(path: Path, access: Access) -> list[Path]:
    """Create ``path`` and its missing parents with :attr:`Access.dir_mode` and the group.

    Directories that already exist are left alone (a registry may live in a directory the
    operator made); use :func:`secure` on those that are driftd's own. Returns the directories
    created.
    """
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    created: list[Path] = []
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process made it: it applies the same rule
        except OSError as exc:
            raise DriftdError(f"{directory}: cannot create: {exc.strerror or exc}") from None
        created.append(directory)
    for directory in created:
        secure(directory, access)
    return created


def secure(path: Path, access: Access) -> None:
    """Give one file or directory this user owns its exact mode and the configured group.

    The group comes first: ``chown`` clears the setgid bit on some systems, ``chmod`` sets it.
    Symlinks are not followed; a path owned by someone else is left alone.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DriftdError(f"{path}: cannot stat: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid():
        return
    mode = access.dir_mode if stat.S_ISDIR(st.st_mode) else access.file_mode
    gid = access.gid()
    try:
        if gid is not None and st.st_gid != gid:
            # Not a member of the group: EPERM, and the mode still applies.
            with contextlib.suppress(PermissionError):
                os.chown(path, -1, gid, follow_symlinks=False)
        if stat.S_IMODE(os.lstat(path).st_mode) != mode:
            os.chmod(path, mode)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return  # removed meanwhile (a temp file renamed away)
        raise DriftdError(f"{path}: cannot set mode {mode:o}: {exc.strerror or exc}") from None


def secure_tree(root: Path, access: Access) -> None:
    """:func:`secure` on ``root`` and everything below it (no symlink is followed)."""
    root = Path(root)
    secure(root, access)
    for here, dirs, files in os.walk(root):
        base = Path(here)
        for name in (*dirs, *files):
            secure(base / name, access)
