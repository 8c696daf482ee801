"""Extracted voxels on disk: a cohort's design that need not fit in memory.

A whole-brain design is n patients x ~235,000 voxels: 0.94 MB per patient in
float32, 9.4 GB for 10,000 patients. The linear models' routes need it only
through products over voxels (the Gram matrix A A^T, the maps C A), which can
be accumulated a block of voxel columns at a time. :class:`VoxelStore` keeps
the design on disk in such blocks, so that memory is O(n^2 + n x block).

Layout, in one folder: ``features.f32`` holds the design in column chunks,
chunk c being the (n, width_c) block of columns ``[c * chunk, ...)`` stored
row-major, so that reading a chunk is one contiguous read; ``rows.done`` has
one byte per patient, set once that patient's row is written and synced (2
when the row holds a NaN, so that nobody reads the voxels to find out);
``store.json`` says what the store holds (the extractor's key, the grid, the
patients and their files' identities, the chunk width) and whether it is
complete. An interrupted extraction resumes from the rows marked done; a
store is reused only by a request for exactly what it holds, and refused,
naming the difference, otherwise.

Memory-mapping was the alternative: simpler, but the pages of a mapped file
count in the process's resident memory while mapped, and a row-major map read
by columns touches every page. Explicit reads of contiguous chunks keep the
process small and the reads sequential. Zarr would add compression; voxel
values in float32 compress poorly (the standard gzip of the synthetic images
is 1.3x) and every read would pay the decompression.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import tempfile
import weakref
from pathlib import Path

import numpy as np

from txpredict._io import reserve, write_text_atomic
from txpredict.errors import TxpredictError

FORMAT = "txpredict-voxel-store-1"
DATA, DONE, META = "features.f32", "rows.done", "store.json"
_NOT_WRITTEN, _WRITTEN, _WITH_NAN = 0, 1, 2  # a row's mark in DONE
#: Bytes of one chunk (all patients x its columns): the unit of reading.
CHUNK_BYTES = 32 * 2**20
_DTYPE = np.dtype("<f4")


def available_memory() -> int:
    """Bytes of memory available to a new allocation (Linux: MemAvailable)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:  # elsewhere: the free pages (an underestimate: the page cache is free)
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**34  # unknown: assume 16 GB


def fits_in_memory(n_bytes: int, share: float) -> bool:
    """Whether ``n_bytes`` take at most ``share`` of the memory available."""
    return n_bytes <= share * available_memory()


def chunk_width(n_rows: int) -> int:
    """Columns per chunk for ``n_rows`` patients (CHUNK_BYTES, 256-16384)."""
    return int(min(16384, max(256, CHUNK_BYTES // (_DTYPE.itemsize * n_rows))))


def store_key(what: dict) -> str:
    """The folder name of the store holding ``what`` (a hash of its description)."""
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


class VoxelStore:
    """A cohort's extracted image features on disk, float32, in column chunks.

    Use :meth:`open` to get the store of a description (created if new), then
    :meth:`write_rows` for the rows :meth:`missing_rows` lists, then
    :meth:`finish`. Reading: :meth:`column_blocks`, :meth:`gram` and
    ``C @ store`` (a matrix times the design), one chunk at a time.

    Parameters
    ----------
    folder : path
        The store's folder (from :meth:`open`).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> A = np.arange(12, dtype=np.float32).reshape(3, 4)
    >>> store = VoxelStore.open(tempfile.mkdtemp(), {"extractor": "demo"},
    ...                         n_rows=3, n_features=4, chunk=3)
    >>> store.write_rows(np.arange(3), A); store.finish()
    >>> bool(np.array_equal(store.gram(), A.astype(float) @ A.T.astype(float)))
    True
    >>> bool(np.allclose(np.ones((1, 3)) @ store, A.sum(axis=0)))
    True
    """

    # ``C @ store`` must come here, not to numpy's elementwise broadcasting.
    __array_ufunc__ = None

    def __init__(self, folder):
        self.folder = Path(folder)
        meta = json.loads((self.folder / META).read_text())
        self.description = meta["description"]
        self.shape = (meta["n_rows"], meta["n_features"])
        self.chunk = meta["chunk"]
        self.complete = meta["complete"]
        self.dtype = np.dtype(np.float32)
        self._scratch = None  # removes a scratch store's folder with the store

    # -- creating and finding -------------------------------------------------
    @classmethod
    def open(cls, root, description, *, n_rows, n_features, chunk=None):
        """The store of ``description`` under ``root``: existing, or created.

        ``description`` says what the store holds (JSON-able); the folder is
        ``root/txpredict_store/<hash of it>``. A new store's file is
        allocated in full at once, so a disk without room fails here, before
        any image is read, and leaves nothing behind.
        """
        what = {"format": FORMAT, "description": description}
        folder = Path(root) / "txpredict_store" / store_key(what)
        if (folder / META).exists():
            store = cls(folder)
            store._check(description, n_rows, n_features)
            store._check_size()
            return store
        chunk = chunk or chunk_width(n_rows)
        tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=_made(folder.parent)))
        try:
            size = n_rows * n_features * _DTYPE.itemsize
            _allocate(tmp / DATA, size, folder)
            (tmp / DONE).write_bytes(bytes(n_rows))
            meta = {
                "format": FORMAT,
                "description": description,
                "n_rows": n_rows,
                "n_features": n_features,
                "chunk": chunk,
                "complete": False,
            }
            write_text_atomic(tmp / META, json.dumps(meta, indent=1, default=str))
            tmp.rename(folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if (folder / META).exists():  # another process made it meanwhile
                return cls(folder)
            raise
        return cls(folder)

    @classmethod
    def scratch(cls, description, *, n_rows, n_features, chunk=None):
        """A store in a temporary folder, removed when the store is dropped."""
        root = tempfile.mkdtemp(prefix="txpredict-store-")
        try:
            store = cls.open(
                root, description, n_rows=n_rows, n_features=n_features, chunk=chunk
            )
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        store._scratch = weakref.finalize(store, shutil.rmtree, root, True)
        return store

    def __getstate__(self):
        # A copy in a worker process reads the folder; it does not own it.
        return {**self.__dict__, "_scratch": None}

    def _check(self, description, n_rows, n_features):
        """Refuse, by name, a store that does not hold what is asked for."""
        theirs = {**self.description, "n_rows": self.shape[0]}
        ours = {**description, "n_rows": n_rows}
        theirs["n_features"], ours["n_features"] = self.shape[1], n_features
        differ = sorted(
            k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k)
        )
        if differ:
            raise TxpredictError(
                f"The voxel store {self.folder} holds other features than this run "
                f"asks for: its {', '.join(differ)} differ (for instance "
                f"{differ[0]}: stored {_short(theirs.get(differ[0]))}, asked "
                f"{_short(ours.get(differ[0]))}). Stores are never mixed: remove "
                "this folder, or give another cache folder."
            )

    def _check_size(self):
        """Refuse a store whose data file is not the size its description says."""
        size = (self.folder / DATA).stat().st_size
        if size != self.nbytes:
            raise TxpredictError(
                f"The voxel store {self.folder} is damaged: {DATA} has {size} bytes, "
                f"{self.nbytes} expected. Remove this folder; the next run extracts "
                "the images again."
            )

    # -- writing --------------------------------------------------------------
    def _marks(self) -> np.ndarray:
        """Per row: 0 not written, 1 written, 2 written and holding a NaN."""
        return np.frombuffer((self.folder / DONE).read_bytes(), dtype=np.uint8)

    def missing_rows(self) -> np.ndarray:
        """Rows not yet written (all of a new store, none of a complete one)."""
        return np.flatnonzero(self._marks() == _NOT_WRITTEN)

    def has_missing_values(self) -> bool:
        """Whether a written row holds a NaN (recorded as rows are written).

        The routes ask before choosing the Gram route: answered from the row
        marks, not by another pass over every voxel.
        """
        return bool(np.any(self._marks() == _WITH_NAN))

    def write_rows(self, rows, block, subjects=None) -> None:
        """Write ``block`` (len(rows) x n_features) as ``rows``, then mark them done.

        The data reach the disk (fsync) before the rows are marked, so a row
        marked done is whole whatever happens after. ``subjects`` name the
        rows in an error.
        """
        rows = np.asarray(rows)
        block = np.ascontiguousarray(block, dtype=_DTYPE)
        n, p = self.shape
        try:
            fd = os.open(self.folder / DATA, os.O_WRONLY)
        except FileNotFoundError:
            raise TxpredictError(
                f"The voxel store {self.folder} is not visible from this worker "
                f"(host {socket.gethostname()}). On a cluster, give the model a "
                "memory= folder on storage every worker shares; the store goes "
                "there."
            ) from None
        try:
            for start in range(0, p, self.chunk):
                width = min(self.chunk, p - start)
                base = n * start * _DTYPE.itemsize
                part = np.ascontiguousarray(block[:, start : start + width])
                # Consecutive rows are consecutive in the chunk: one write.
                for first, parts in _runs(rows, part):
                    offset = base + int(first) * width * _DTYPE.itemsize
                    self._pwrite(fd, parts.tobytes(), offset, rows, subjects)
            os.fsync(fd)
        finally:
            os.close(fd)
        marks = os.open(self.folder / DONE, os.O_WRONLY)
        try:
            with_nan = np.isnan(block).any(axis=1)
            for row, nan in zip(rows, with_nan, strict=True):
                mark = bytes([_WITH_NAN if nan else _WRITTEN])
                self._pwrite(marks, mark, int(row), rows, subjects)
            os.fsync(marks)
        finally:
            os.close(marks)

    def _pwrite(self, fd, data, offset, rows, subjects):
        try:
            written = os.pwrite(fd, data, offset)
        except OSError as exc:
            who = f" ({', '.join(map(str, subjects))})" if subjects is not None else ""
            hint = (
                " The disk is full: free space (the store needs "
                f"{self.nbytes / 1e9:.1f} GB) and run again."
                if exc.errno == errno.ENOSPC
                else ""
            )
            raise TxpredictError(
                f"Writing the voxel store {self.folder} failed at rows "
                f"{rows.min()}-{rows.max()}{who}: {exc.strerror}.{hint} The rows "
                "written before are kept, and a later run goes on from them."
            ) from exc
        if written != len(data):
            raise TxpredictError(
                f"Writing the voxel store {self.folder}: a short write "
                f"({written} of {len(data)} bytes). Check the disk and run again."
            )

    def finish(self) -> None:
        """Mark the store complete (every row written)."""
        missing = self.missing_rows()
        if len(missing):
            raise TxpredictError(
                f"The voxel store {self.folder} misses {len(missing)} rows (first "
                f"{missing[0]}): it cannot be finished."
            )
        meta = json.loads((self.folder / META).read_text())
        meta["complete"] = True
        write_text_atomic(self.folder / META, json.dumps(meta, indent=1, default=str))
        self.complete = True

    # -- reading --------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * _DTYPE.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return 2

    def column_blocks(self):
        """``(start, block)`` for each chunk: block is the (n, width) float32 array."""
        self._check_complete()
        n, p = self.shape
        with open(self.folder / DATA, "rb") as f:
            for start in range(0, p, self.chunk):
                width = min(self.chunk, p - start)
                f.seek(n * start * _DTYPE.itemsize)
                block = np.fromfile(f, dtype=_DTYPE, count=n * width)
                yield start, block.reshape(n, width).astype(np.float32, copy=False)

    def rows(self, index) -> np.ndarray:
        """The rows ``index`` (all their columns) as one in-memory array."""
        index = np.asarray(index)
        out = np.empty((len(index), self.shape[1]), dtype=np.float32)
        for start, block in self.column_blocks():
            out[:, start : start + block.shape[1]] = block[index]
        return out

    def take_columns(self, index) -> np.ndarray:
        """The columns ``index`` (sorted, all rows) as one in-memory array."""
        index = np.asarray(index)
        out = np.empty((self.shape[0], len(index)), dtype=np.float32)
        for start, block in self.column_blocks():
            inside = (index >= start) & (index < start + block.shape[1])
            out[:, inside] = block[:, index[inside] - start]
        return out

    def gram(self) -> np.ndarray:
        """A A^T in float64, accumulated over the chunks."""
        out = np.zeros((self.shape[0], self.shape[0]))
        for _, block in self.column_blocks():
            wide = block.astype(np.float64)
            out += wide @ wide.T
        return out

    def __rmatmul__(self, coefficients) -> np.ndarray:
        """``coefficients @ A`` (k x n times n x p), float32 like the design."""
        coefficients = np.asarray(coefficients, dtype=np.float32)
        if coefficients.ndim != 2 or coefficients.shape[1] != self.shape[0]:
            raise ValueError(
                f"matmul: {coefficients.shape} times a store of shape {self.shape}"
            )
        out = np.empty((coefficients.shape[0], self.shape[1]), dtype=np.float32)
        for start, block in self.column_blocks():
            out[:, start : start + block.shape[1]] = coefficients @ block
        return out

    def _check_complete(self):
        if not self.complete:
            raise TxpredictError(
                f"The voxel store {self.folder} is not complete "
                f"({len(self.missing_rows())} rows missing): extract the images "
                "into it first."
            )

    def __repr__(self) -> str:
        state = "complete" if self.complete else "incomplete"
        return f"VoxelStore({self.shape[0]} x {self.shape[1]}, {state}, {self.folder})"


class StoredDesign:
    """A design on disk with table columns: voxels in a store, the table beside.

    What ``ResponseModel.design`` returns on disk for a model that reads table
    columns (the site and covariates of ComBat, confounds, demographics):
    the image features stay in ``store`` and are read a block of columns at
    a time; the table (n_patients x a few columns) is in memory.

    Parameters
    ----------
    store : VoxelStore
    table : DataFrame
        The same patients' table columns, in the store's row order.
    """

    def __init__(self, store: VoxelStore, table):
        if len(table) != store.shape[0]:
            raise TxpredictError(
                f"StoredDesign: the table has {len(table)} rows for a store of "
                f"{store.shape[0]} patients."
            )
        self.store = store
        self.table = table

    @property
    def shape(self) -> tuple[int, int]:
        """(patients, image features + table columns), as the DataFrame design."""
        return self.store.shape[0], self.store.shape[1] + self.table.shape[1]

    def __len__(self) -> int:
        return self.store.shape[0]

    def __repr__(self) -> str:
        return f"StoredDesign({self.store!r}, table columns {list(self.table.columns)})"


def _runs(rows, part):
    """``(first row, its block)`` for each run of consecutive ``rows``."""
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    for lo, hi in zip([0, *breaks], [*breaks, len(rows)], strict=True):
        yield rows[lo], part[lo:hi]


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _allocate(path: Path, size: int, folder: Path) -> None:
    """Create ``path`` with ``size`` bytes reserved on disk (or fail clearly)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL)
    try:
        reserve(fd, size)
    except OSError as exc:
        raise TxpredictError(
            f"Cannot create the voxel store {folder}: {exc.strerror} "
            f"(it needs {size / 1e9:.2f} GB). Free space there, or give another "
            "cache folder."
        ) from exc
    finally:
        os.close(fd)


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
