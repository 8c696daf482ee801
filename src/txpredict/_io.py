"""Atomic file output: a reader never sees half a file, a failure leaves nothing.

Output folders carry a manifest (:data:`MANIFEST`) listing the files txpredict
wrote there. Writing again into such a folder (``overwrite=True``) replaces
those files, removes the ones the new run no longer writes, and never touches
anything else: a user's own file in an output folder is never deleted or
overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from txpredict.errors import IncompleteOutputError, TxpredictError

#: Name of the list of files txpredict wrote into an output folder.
MANIFEST = ".txpredict-manifest.json"


def _umask() -> int:
    """The process umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file lives in the same folder so that :func:`os.replace` is a
    rename on one file system, which POSIX makes atomic.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    tmp.chmod(0o666 & ~_umask())  # mkstemp's 0600 would hide results from colleagues
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def reserve(fd: int, n_bytes: int) -> None:
    """Give the open file ``fd`` ``n_bytes``, its blocks reserved where possible.

    Reserved now, a full disk shows here (OSError) rather than later, when a
    write through a memory map could only kill the writer (SIGBUS). Without
    ``posix_fallocate`` the file is only extended.
    """
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, max(n_bytes, 1))
    else:
        os.ftruncate(fd, n_bytes)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def written_by_txpredict(folder: str | os.PathLike) -> set[str]:
    """Files (relative POSIX paths) that txpredict's manifest says it wrote."""
    try:
        payload = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        return {str(f) for f in payload["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _files_under(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MANIFEST
    )


def _foreign_entries(folder: Path) -> list[str]:
    """Files (and empty folders) in ``folder`` that txpredict did not write."""
    ours = written_by_txpredict(folder)
    foreign = [f for f in _files_under(folder) if f not in ours]
    foreign += [
        p.relative_to(folder).as_posix() + "/"
        for p in folder.rglob("*")
        if p.is_dir() and not any(p.iterdir())
    ]
    return sorted(foreign)


def _is_empty(folder: Path) -> bool:
    return not any(p.name != MANIFEST for p in folder.iterdir())


def check_output_folder(
    path: str | os.PathLike,
    *,
    overwrite: bool,
    will_write: Iterable[str] | None = None,
    option: str = "overwrite=True",
) -> None:
    """Refuse an output folder whose contents a run would destroy.

    Call it before any work, so a run does not fail at its very end. An existing
    non-empty folder needs ``overwrite``; even then a file that txpredict did
    not write is never replaced: if a name in ``will_write`` is taken by such a
    file, this raises and names it.

    Parameters
    ----------
    path : str or pathlib.Path
    overwrite : bool
    will_write : iterable of str or None, default=None
        Relative paths the run will write, when known in advance.
    option : str, default="overwrite=True"
        How the user sets ``overwrite`` here (a keyword, a TOML key, a flag),
        for the error message.
    """
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise FileExistsError(
            f"The output path {str(path)!r} is a file, not a folder; choose a "
            "folder name."
        )
    if _is_empty(path):
        return
    if not overwrite:
        raise FileExistsError(
            f"Output folder {str(path)!r} already exists and is not empty. Choose a "
            f"new folder, or set {option} to replace what txpredict wrote there "
            "(files it did not write are never touched)."
        )
    if will_write is not None:
        ours = written_by_txpredict(path)
        taken = sorted(f for f in will_write if (path / f).exists() and f not in ours)
        if taken:
            raise FileExistsError(
                f"Output folder {str(path)!r} holds {taken}, which txpredict did not "
                "write (or whose record of writing them is gone); txpredict never "
                "replaces files it did not write. Move or rename them, or choose "
                "another folder."
            )


@dataclass
class Publication:
    """What writing an output folder did to an existing folder of that name."""

    folder: Path
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def describe(self) -> str | None:
        """A sentence for the user, or None when the folder was new."""
        if not (self.replaced or self.removed or self.kept):
            return None
        parts = []
        if self.replaced:
            parts.append(
                f"replaced {len(self.replaced)} file(s) of an earlier txpredict run"
            )
        if self.removed:
            parts.append(
                f"removed {len(self.removed)} it no longer writes "
                f"({_shorten(self.removed)})"
            )
        if self.kept:
            parts.append(
                f"kept {len(self.kept)} it did not write ({_shorten(self.kept)})"
            )
        return f"In {self.folder}: " + "; ".join(parts) + "."


def _shorten(names, limit=5) -> str:
    names = list(names)
    more = f", ... {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _publish(tmp: Path, path: Path) -> Publication:
    """Move the files of ``tmp`` into ``path``, touching only what txpredict wrote."""
    files = _files_under(tmp)
    manifest = json.dumps({"writer": "txpredict", "files": files}, indent=1)
    if not path.exists() or (path.is_dir() and _is_empty(path)):
        (tmp / MANIFEST).write_text(manifest, encoding="utf-8")
        if path.exists():
            shutil.rmtree(path)  # empty, or only an old manifest of ours
        os.replace(tmp, path)  # one rename: the folder appears complete
        return Publication(path)
    ours = written_by_txpredict(path)
    # Checked again, now that every name is known: nothing is moved until the
    # whole publication is known to touch only txpredict's own files.
    check_output_folder(path, overwrite=True, will_write=files)
    taken_by_folders = [f for f in files if (path / f).is_dir()]
    if taken_by_folders:
        raise FileExistsError(
            f"Output folder {str(path)!r} has folder(s) {taken_by_folders} where "
            "txpredict writes files; move them or choose another folder."
        )
    report = Publication(path)
    for stale in sorted(ours - set(files)):
        target = path / stale
        if target.is_file():
            target.unlink()
            report.removed.append(stale)
            _remove_empty_parents(target.parent, path)
    for name in files:
        target = path / name
        if target.exists():
            report.replaced.append(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / name, target)
    write_text_atomic(path / MANIFEST, manifest)
    report.kept = _foreign_entries(path)
    return report


def _remove_empty_parents(folder: Path, top: Path) -> None:
    while folder != top and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    report: Callable[[str], object] | None = None,
) -> Iterator[Path]:
    """Yield a temporary folder; its files appear in ``path`` if the block succeeds.

    A new (or empty) ``path`` appears at once, complete. An existing non-empty
    ``path`` is an error unless ``overwrite=True``; then only the files that
    txpredict wrote there before are replaced or removed (see
    :data:`MANIFEST`), one atomic rename each, and ``report`` (e.g. ``print``)
    is told what was replaced, removed and kept.
    """
    path = Path(path)
    check_output_folder(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(
        tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    )
    tmp.chmod(0o777 & ~_umask())  # as a plain mkdir would make it, not mkdtemp's 0700
    try:
        yield tmp
        publication = _publish(tmp, path)
        message = publication.describe()
        if report is not None and message:
            report(message)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _said(exc: Exception) -> str:
    """An exception in one line: its type and message."""
    return f"{type(exc).__name__}: {exc}"


#: What a results folder holds when a step after the analysis failed.
INCOMPLETE = "INCOMPLETE.txt"


@dataclass
class ResultsFolder:
    """A results folder being written: the results, then steps that may fail.

    Attributes
    ----------
    path : pathlib.Path
        The temporary folder to write into (renamed into place at the end).
    failures : list of (str, Exception)
        What failed after the analysis, and why.
    """

    path: Path
    report: Callable[[str], object] | None = None
    failures: list = field(default_factory=list)

    def attempt(self, what: str, step: Callable, *args, **kwargs):
        """Run ``step``; if it fails, record it and go on (returns None).

        For the steps after the analysis (the final model, its file, the
        report, the maps): their failure must not lose the results already
        computed. Interruptions (Ctrl-C) are not caught.
        """
        try:
            return step(*args, **kwargs)
        except Exception as exc:
            self.failures.append((what, exc))
            if self.report is not None:
                self.report(
                    f"Failed: {what} ({_said(exc)}). The results computed so far "
                    "are kept."
                )
            return None

    def _record(self) -> str:
        lines = [
            "The analysis finished, but these steps after it failed; the other "
            "files of this folder are complete.",
            "",
        ]
        for what, exc in self.failures:
            lines += [f"- {what}: {_said(exc)}", ""]
            lines += [
                "  " + line
                for line in "".join(traceback.format_exception(exc)).splitlines()
            ]
            lines.append("")
        return "\n".join(lines)


@contextlib.contextmanager
def results_folder(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    report: Callable[[str], object] | None = None,
) -> Iterator[ResultsFolder]:
    """:func:`atomic_directory` for an analysis's results, which are never lost.

    Steps run through :meth:`ResultsFolder.attempt` may fail: the folder is
    still published, with :data:`INCOMPLETE` listing what failed, and then
    :class:`~txpredict.errors.IncompleteOutputError` says so. Any other
    failure leaves nothing behind, as with :func:`atomic_directory`.
    """
    path = Path(path)
    with atomic_directory(path, overwrite=overwrite, report=report) as tmp:
        folder = ResultsFolder(tmp, report)
        yield folder
        if folder.failures:
            (tmp / INCOMPLETE).write_text(folder._record(), encoding="utf-8")
    if folder.failures:
        failed = "; ".join(f"{what} ({_said(exc)})" for what, exc in folder.failures)
        raise IncompleteOutputError(
            f"The analysis finished and its results are in {str(path)!r}, but "
            f"{failed} failed; {INCOMPLETE} there has the details. Please report "
            "it with that file."
        )


def check_writable(path: str | os.PathLike, what: str) -> None:
    """Refuse, before any work, a folder the run could not create or write.

    ``path`` may not exist yet: its nearest existing parent must then be a
    writable folder. Raises naming ``what`` (e.g. "[output] folder").
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise TxpredictError(
            f"The {what} {str(path)!r} is a file, not a folder; choose a folder "
            "name (or move the file)."
        )
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise TxpredictError(
            f"The {what} {str(path)!r} cannot be created: {str(existing)!r} is a "
            "file, not a folder."
        )
    try:  # os.access is not enough: read-only mounts, ACLs, root
        fd, probe = tempfile.mkstemp(prefix=".txpredict-write-check.", dir=existing)
    except OSError as exc:
        raise TxpredictError(
            f"The {what} {str(path)!r} cannot be written: {str(existing)!r} is not "
            f"writable ({exc.strerror}). Choose a folder you can write to."
        ) from None
    os.close(fd)
    os.unlink(probe)
