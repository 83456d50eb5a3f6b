"""File modes and group ownership (driftd.permissions) on real files: the helper itself, the
registry opened with a group, and a real training child writing under that group."""

from __future__ import annotations

import grp
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftd import trainer
from driftd.config import TrainingConfig
from driftd.errors import ConfigError
from driftd.permissions import Access, make_dirs, secure, secure_tree
from driftd.registry.store import Registry


def usable_group() -> tuple[str, int]:
    """A group this process may give its files: one of its own groups, preferably not its
    effective group (so that the chown is visible); as root, any group. Skip if none."""
    egid = os.getegid()
    gids = [g for g in os.getgroups() if g != egid]
    if os.geteuid() == 0:
        gids += [g.gr_gid for g in grp.getgrall() if g.gr_gid != egid]
    for gid in [*gids, egid]:
        try:
            return grp.getgrgid(gid).gr_name, gid
        except KeyError:
            continue
    pytest.skip("no group with a name is usable here")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def umask077() -> Iterator[None]:
    old = os.umask(0o077)
    yield
    os.umask(old)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_directories_get_exact_modes_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    """make_dirs creates each missing directory 0700 (no group) or 2750 with the group; a
    directory that already existed keeps its mode."""
    name, gid = usable_group()
    os.chmod(tmp_path, 0o755)
    old = os.umask(umask)
    try:
        created = make_dirs(tmp_path / "a" / "b", Access())
        grouped = make_dirs(tmp_path / "g" / "h", Access(name))
    finally:
        os.umask(old)
    assert created == [tmp_path / "a", tmp_path / "a" / "b"]
    assert [mode(p) for p in created] == [0o700, 0o700]
    assert [mode(p) for p in grouped] == [0o2750, 0o2750]
    assert {p.stat().st_gid for p in grouped} == {gid}
    assert mode(tmp_path) == 0o755


def test_files_follow_the_access_and_symlinks_are_not_followed(tmp_path: Path) -> None:
    """secure() sets 0600, or 0640 plus the group; a symlink and its target are left alone;
    secure_tree covers a whole directory."""
    name, gid = usable_group()
    target = tmp_path / "target"
    target.write_text("x")
    os.chmod(target, 0o644)
    link = tmp_path / "tree" / "link"
    link.parent.mkdir()
    link.symlink_to(target)
    (tmp_path / "tree" / "f").write_text("y")
    secure_tree(tmp_path / "tree", Access(name))
    assert mode(tmp_path / "tree") == 0o2750 and mode(tmp_path / "tree" / "f") == 0o640
    assert (tmp_path / "tree" / "f").stat().st_gid == gid
    assert mode(target) == 0o644
    secure(tmp_path / "tree" / "f", Access())
    assert mode(tmp_path / "tree" / "f") == 0o600
    secure(tmp_path / "gone", Access())  # a file removed meanwhile is not an error


def test_an_unknown_group_is_a_config_error(tmp_path: Path) -> None:
    """A group that does not exist on this host is reported under the `group` key."""
    with pytest.raises(ConfigError, match="group: no group named 'no-such-group-xyz'"):
        make_dirs(tmp_path / "x", Access("no-such-group-xyz"))


def test_the_registry_belongs_to_the_configured_group(tmp_path: Path, umask077: None) -> None:
    """Registry.open(group=...): registry, -wal and -shm 0640 in the group, the directories it
    creates 2750 in the group, even under umask 077."""
    name, gid = usable_group()
    path = tmp_path / "state" / "db" / "registry.db"
    with Registry.open(path, group=name) as reg:
        reg.ensure_model("churn")
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert [mode(p) for p in files] == [0o640] * 3
        assert {p.stat().st_gid for p in files} == {gid}
    assert [mode(p) for p in (path.parent, path.parent.parent)] == [0o2750, 0o2750]
    assert path.parent.stat().st_gid == gid


def test_a_training_child_writes_with_the_group_modes(tmp_path: Path, umask077: None) -> None:
    """A real training (the command way, copying a prepared skops file) under Access(group):
    artifact and log are 0640 in the group; the command's files are hashed as its code."""
    import skops.io
    from sklearn.linear_model import LogisticRegression

    name, gid = usable_group()
    access = Access(name)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60)})
    frame["y"] = (frame["x"] > 0).astype(int)
    prepared = tmp_path / "prepared.skops"
    skops.io.dump(LogisticRegression().fit(frame[["x"]], frame["y"]), prepared)
    script = tmp_path / "train.sh"
    script.write_text('#!/bin/sh\ncp "$1" "$2"\n')
    out_dir = tmp_path / "artifacts" / "churn" / "0123456789ab"
    log_dir = tmp_path / "artifacts" / "churn" / "logs"
    make_dirs(out_dir, access)
    make_dirs(log_dir, access)
    trained = trainer.train(
        TrainingConfig(command=("/bin/sh", str(script), str(prepared), "{model}")),
        frame,
        features=["x"],
        categorical=[],
        target="y",
        out_dir=out_dir,
        log_dir=log_dir,
        access=access,
    )
    written = [Path(trained.artifact_path), Path(str(trained.log_path))]
    assert [mode(p) for p in written] == [0o640, 0o640]
    assert {p.stat().st_gid for p in written} == {gid}
    assert trained.code is not None and trained.code["way"] == "command"
    assert trained.code["path"] == str(script.resolve())
    assert trained.code["sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()
    assert [f["path"] for f in trained.code["files"]][1:] == [
        str(script.resolve()),
        str(prepared.resolve()),
    ]
