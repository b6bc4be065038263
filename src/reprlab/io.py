"""Atomic file output: write to a temporary file beside the target, fsync, then rename.

A reader (or a resumed run after ``kill -9``) sees either the old file or the complete new one,
never a torn write. A write that fails for want of space or permission (a full or read-only file
system) raises :class:`reprlab.errors.OutputError` naming the target, not the temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from reprlab.errors import OutputError, ReprlabError

PathLike = str | os.PathLike

# errors of the disk, not of reprlab: a full, read-only or forbidden output location
_DISK_ERRNOS = {errno.ENOSPC: "the disk is full: free some space or choose another output directory",
                errno.EDQUOT: "the disk quota is exhausted: free some space or choose another output directory",
                errno.EROFS: "the file system is read-only: choose a writable output directory",
                errno.EACCES: "permission denied: choose a writable output directory",
                errno.EPERM: "permission denied: choose a writable output directory"}


def disk_error(e: OSError, path: PathLike | None = None) -> OutputError | None:
    """:class:`OutputError` naming ``path`` (else the failing file) for a full/read-only/forbidden
    location, or ``None`` when ``e`` is another kind of ``OSError``."""
    fix = _DISK_ERRNOS.get(e.errno or -1)
    if fix is None:
        return None
    where = path if path is not None else (e.filename or "output")
    err = OutputError(f"{where}: cannot write ({e.strerror or e}); {fix} (e.g. -o DIR)")
    # an OSError still, for callers that read these (the message above stays the error's text)
    err.errno, err.strerror, err.filename = e.errno, e.strerror, str(where)
    return err


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a disk error while writing ``path`` into an :class:`OutputError` naming ``path``."""
    try:
        yield
    except ReprlabError:
        raise
    except OSError as e:
        err = disk_error(e, path)
        if err is None:
            raise
        raise err from None


def _default_mode(directory: bool = False) -> int:
    """Permissions an ordinary ``open``/``mkdir`` would give (mkstemp's 0600 would hide outputs)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not supported on this platform/filesystem
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on success it atomically replaces ``path``."""
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, _default_mode())
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as f:
            with _writing(path):
                yield f
                f.flush()
                os.fsync(f.fileno())
        with _writing(path):
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path for a writer that insists on a file name (safetensors, savefig).

    The temporary file keeps ``path``'s suffix so format detection by extension still works.
    """
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, _default_mode())
    tmp_path = Path(tmp)
    try:
        with _writing(path):
            yield tmp_path
            with open(tmp_path, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a temporary directory; on success it is renamed to ``path`` (which must not exist)."""
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, _default_mode(directory=True))
    try:
        with _writing(path):
            yield tmp
            for child in tmp.iterdir():
                if child.is_file():
                    with open(child, "rb") as f:
                        os.fsync(f.fileno())
            _fsync_dir(tmp)
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def secondary_rank() -> bool:
    """True in a torch.distributed process other than rank 0 (whose results rank 0 writes)."""
    dist = sys.modules.get("torch.distributed")
    return bool(dist is not None and dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)


def write_json(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (rank 0 alone under torch.distributed)."""
    if secondary_rank():
        return
    with atomic_write(path) as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def save_figure(fig: Any, path: PathLike, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (format from the suffix, dpi 110 unless given) and close it.

    Under torch.distributed only rank 0 writes the file.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    if secondary_rank():
        plt.close(fig)
        return path
    savefig_kwargs.setdefault("dpi", 110)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **savefig_kwargs)
    plt.close(fig)
    return path


def remove_temporaries(directory: PathLike) -> list[Path]:
    """Delete the temporary files and directories the atomic writers above left in ``directory``.

    A process killed mid-write leaves ``.NAME.XXXX.tmp`` (or ``.STEM.XXXX.tmp.SUFFIX``) behind;
    nothing else reads them. Returns what was removed.
    """
    directory = Path(directory)
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for p in directory.iterdir():
        name = p.name
        if name.startswith(".") and (name.endswith(".tmp") or ".tmp." in name):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            removed.append(p)
    return removed
