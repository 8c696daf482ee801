"""One-pass feature extraction: read each image once, serve every extractor from it.

Extraction is per subject and learns nothing from the cohort (the first stage of
the two-stage design), so it may run once for the whole cohort and be cached.
Each *spec* (what one extractor takes out of one image) has a key that hashes
its parameters and voxel indices; the cache stores one ``.npy`` per (spec key,
file identity), so a changed file or parameter is never served stale, and a run
that fails half-way leaves only complete, valid entries behind.
"""

from __future__ import annotations

import hashlib
import itertools
import mmap
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import joblib
import numpy as np
import pandas as pd

from txpredict._images import (
    Grid,
    ImageLike,
    check_grid,
    load_image,
    stat_identity,
    subject_label,
)
from txpredict._io import atomic_path, reserve
from txpredict.errors import ImageError, TxpredictError
from txpredict.features._store import VoxelStore

PROGRESS_MIN_IMAGES = 20


class ExtractionSpec(Protocol):
    """What one extractor computes from one subject's image array."""

    key: str
    n_features: int
    dtype: type

    def compute(self, data: np.ndarray, img, subject, image) -> np.ndarray:
        """Feature vector of one subject (1D, length ``n_features``)."""


def images_from_input(X, image_column: str = "image") -> tuple[list, list]:
    """Images and subject labels from a DataFrame, a Series or a list."""
    if isinstance(X, pd.DataFrame):
        if image_column not in X.columns:
            raise TxpredictError(
                f"X has no image column {image_column!r}; its columns are "
                f"{list(map(str, X.columns))}. Pass image_column= naming the "
                "column of image paths."
            )
        X = X[image_column]
    if isinstance(X, pd.Series):
        return list(X.to_numpy()), [str(s) for s in X.index]
    if isinstance(X, str | os.PathLike):
        raise TxpredictError(
            f"Expected several images (a list, a Series or a DataFrame with an image "
            f"column); got the single path {os.fspath(X)!r}. Wrap it in a list."
        )
    try:
        images = list(X)
    except TypeError:
        raise TxpredictError(
            "Expected a DataFrame with an image column, a Series or a list of "
            f"images; got {type(X).__name__}."
        ) from None
    subjects = [
        Path(im).name if isinstance(im, str | os.PathLike) else f"#{i}"
        for i, im in enumerate(images)
    ]
    return images, subjects


def _file_identity(image: ImageLike) -> str | None:
    if not isinstance(image, str | os.PathLike):
        return None  # in-memory images are not cached
    try:
        stat = os.stat(image)
    except OSError:
        return None  # load_image raises the clear error
    ident = "|".join(map(str, (os.path.abspath(image), *stat_identity(stat))))
    return hashlib.sha1(ident.encode()).hexdigest()


class FeatureCache:
    """``<location>/txpredict_features/<spec key>/<file identity>.bin``.

    Entries are raw little-endian vectors: the spec key already fixes their
    length and dtype, so reading one is a size check and a copy (no header to
    parse), which is what makes a warm cache 20x faster than decompression.
    """

    def __init__(self, memory):
        if isinstance(memory, joblib.Memory):
            memory = memory.location
        self.root = Path(memory) / "txpredict_features"

    def _path(self, key: str, ident: str) -> Path:
        return self.root / key / f"{ident}.bin"

    def read_into(self, key: str, ident: str, out: np.ndarray, dtype) -> bool:
        """Fill ``out`` from the entry stored as ``dtype``; False if absent or bad."""
        dtype = np.dtype(dtype).newbyteorder("<")
        try:
            with open(self._path(key, ident), "rb") as f:
                if dtype == out.dtype:
                    n = f.readinto(memoryview(out).cast("B"))
                    return n == out.nbytes and not f.read(1)
                raw = f.read()
        except OSError:
            return False
        if len(raw) != out.size * dtype.itemsize:
            return False
        out[:] = np.frombuffer(raw, dtype=dtype)
        return True

    def put(self, key: str, ident: str, vector: np.ndarray, dtype) -> None:
        """Store a vector atomically (parallel writers never see half a file)."""
        data = np.ascontiguousarray(vector, dtype=np.dtype(dtype).newbyteorder("<"))
        with atomic_path(self._path(key, ident)) as tmp:
            tmp.write_bytes(data.tobytes())


def make_cache(memory) -> FeatureCache | None:
    """The feature cache for a ``memory`` parameter (None disables caching)."""
    if memory is None or (
        isinstance(memory, joblib.Memory) and memory.location is None
    ):
        return None
    return FeatureCache(memory)


def _extract_one(image, subject, specs, grid, cache, row, offsets) -> None:
    ident = _file_identity(image) if cache is not None else None
    parts = [row[offsets[i] : offsets[i + 1]] for i in range(len(specs))]
    missing = [
        i
        for i, spec in enumerate(specs)
        if not (ident and cache.read_into(spec.key, ident, parts[i], spec.dtype))
    ]
    if missing:
        img, data = load_image(image, subject)
        check_grid(img, grid, subject, image)
        for i in missing:
            vector = specs[i].compute(data, img, subject, image)
            _refuse_constant(vector, subject, image)
            if ident:
                cache.put(specs[i].key, ident, vector, specs[i].dtype)
            parts[i][:] = vector


def _refuse_constant(vector, subject, image) -> None:
    """An image that is one value wherever it is read is an empty map, not data.

    A first-level model that failed writes zeros; its ROI means would enter
    the analysis as a patient with no activation at all.
    """
    if vector.size > 1 and np.all(vector == vector.flat[0]):
        raise ImageError(
            f"The image of {subject_label(subject, image)} is {vector.flat[0]:g} "
            "everywhere txpredict reads it (every ROI, or every voxel of the "
            "mask): an empty or failed first-level map. Re-create it, or leave "
            "the participant out."
        )


def _extract_rows(images, subjects, specs, grid, memory, out=None) -> np.ndarray:
    offsets = np.cumsum([0, *(s.n_features for s in specs)])
    if out is None:
        out = np.empty((len(images), offsets[-1]), dtype=output_dtype(specs))
    cache = make_cache(memory)
    for row, image, subject in zip(out, images, subjects, strict=True):
        _extract_one(image, subject, specs, grid, cache, row, offsets)
    return out


def output_dtype(specs) -> type:
    """float32 when any extractor yields voxels (halves memory), else float64."""
    return np.float32 if any(s.dtype == np.float32 for s in specs) else np.float64


def extract(
    images: Sequence[ImageLike],
    subjects: Sequence[str],
    specs: Sequence[ExtractionSpec],
    grid: Grid,
    *,
    n_jobs=None,
    memory=None,
    verbose: int = 1,
) -> np.ndarray:
    """Run every spec on every image, reading each image once.

    Returns an array of shape (n_images, total features), the specs' features
    side by side in their order, rows in the order of ``images`` whatever
    ``n_jobs`` is.
    """
    n = len(images)
    if n == 0:
        raise TxpredictError("No images to extract features from (got 0 subjects).")
    n_workers = joblib.effective_n_jobs(n_jobs)
    # Several batches per worker keep the progress bar moving and the load even;
    # batching at all keeps per-task pickling of the specs (voxel indices) rare.
    n_batches = min(n, n_workers * 4 if n_workers > 1 else max(1, n // 10))
    bounds = np.linspace(0, n, n_batches + 1).astype(int)
    batches = list(itertools.pairwise(bounds))
    out = np.empty((n, sum(s.n_features for s in specs)), dtype=output_dtype(specs))
    bar = _progress_bar(n, verbose, "Extracting features")
    try:
        if n_workers == 1:
            for lo, hi in batches:
                _extract_rows(
                    images[lo:hi], subjects[lo:hi], specs, grid, memory, out=out[lo:hi]
                )
                if bar:
                    bar.update(hi - lo)
        elif _workers_share_this_machine():
            return _extract_in_place(
                images, subjects, specs, grid, memory, batches, out, n_jobs, bar
            )
        else:  # a cluster's workers: their rows come back as results
            blocks = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(
                joblib.delayed(_extract_rows)(
                    images[lo:hi], subjects[lo:hi], specs, grid, memory
                )
                for lo, hi in batches
            )
            for (lo, hi), block in zip(batches, blocks, strict=True):
                out[lo:hi] = block
                if bar:
                    bar.update(hi - lo)
    finally:
        if bar:
            bar.close()
    return out


def _progress_bar(total, verbose, what):
    """A progress bar on stderr for ``total`` images (None when few or quiet)."""
    if verbose <= 0 or total < PROGRESS_MIN_IMAGES:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=what, unit="image", file=sys.stderr)


def _workers_share_this_machine() -> bool:
    """Whether joblib's workers are processes or threads of this machine."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return type(backend).__name__ in (
        "LokyBackend",
        "MultiprocessingBackend",
        "ThreadingBackend",
        "SequentialBackend",
    )


def _extract_into(path, shape, dtype, lo, hi, images, subjects, specs, grid, memory):
    """A worker's batch, written into the shared output (rows ``lo:hi``)."""
    shared = np.memmap(path, dtype=dtype, mode="r+", shape=shape)
    _extract_rows(images, subjects, specs, grid, memory, out=shared[lo:hi])
    shared.flush()
    return hi - lo


def _extract_in_place(images, subjects, specs, grid, memory, batches, out, n_jobs, bar):
    """Workers write their rows straight into a shared output array.

    Returning each batch to this process pickled the voxels across a pipe, as
    costly as decompressing them: with 2 workers extraction was no faster
    than with one. The output is a file in shared memory (``/dev/shm``, when
    it has room; else the temporary folder, through the page cache), mapped
    here and in each worker, and unlinked once written: the array stays
    valid, and its memory goes when it does.
    """
    shape, dtype = out.shape, out.dtype
    path = _shared_file(out.nbytes)
    try:
        # Mapped here with mmap, not np.memmap: joblib pickles an array backed
        # by an np.memmap as its file name (so that workers share it), and
        # this file is unlinked below: a worker given the features later (a
        # permutation test) could not open it.
        with open(path, "r+b") as f:
            buffer = mmap.mmap(f.fileno(), out.nbytes)
        shared = np.frombuffer(buffer, dtype=dtype).reshape(shape)
        # max_nbytes=None: the specs' voxel indices are pickled with each task;
        # joblib's automatic memmapping of them cost a temporary folder per
        # call (0.1 s to delete, a sixth of extracting 100 images).
        done = joblib.Parallel(n_jobs=n_jobs, return_as="generator", max_nbytes=None)(
            joblib.delayed(_extract_into)(
                path, shape, dtype, lo, hi, images[lo:hi], subjects[lo:hi], specs,
                grid, memory,
            )
            for lo, hi in batches
        )  # fmt: skip
        for count in done:
            if bar:
                bar.update(count)
    finally:
        os.unlink(path)
    return shared


def _shared_file(n_bytes: int) -> str:
    """A new file of ``n_bytes`` reserved, in RAM if /dev/shm has room."""
    folder = None
    try:
        stats = os.statvfs("/dev/shm")
        if stats.f_bavail * stats.f_frsize > 2 * n_bytes:
            folder = "/dev/shm"
    except OSError:
        pass
    fd, path = tempfile.mkstemp(prefix="txpredict-extract-", dir=folder)
    try:
        reserve(fd, n_bytes)  # the workers write through memory maps
    except OSError as exc:
        os.close(fd)
        os.unlink(path)
        raise TxpredictError(
            f"No room for the extracted features ({n_bytes / 1e9:.2f} GB) in "
            f"{folder or tempfile.gettempdir()}: {exc.strerror}. Free space there "
            "or extract with n_jobs=1."
        ) from exc
    os.close(fd)
    return path


def store_description(images, subjects, specs, grid) -> dict:
    """What a voxel store of these images and extractors holds (its key).

    The extractors' keys (parameters and voxel indices), the grid, and each
    patient with the identity of its file (path, size, modification and
    status-change times), so that a changed file or extractor never meets
    an old store.
    """
    return {
        "extractors": [spec.key for spec in specs],
        "grid": {"shape": list(grid.shape), "affine": np.asarray(grid.affine).tolist()},
        "subjects": list(map(str, subjects)),
        "files": [_file_identity(image) for image in images],
    }


def _store_rows(images, subjects, rows, specs, grid, store) -> int:
    """Extract ``rows`` and write them into ``store`` (in the worker itself)."""
    block = _extract_rows(
        [images[r] for r in rows], [subjects[r] for r in rows], specs, grid, None
    )
    store.write_rows(rows, block, [subjects[r] for r in rows])
    return len(rows)


def extract_to_store(
    images, subjects, specs, grid, root=None, *, n_jobs=None, verbose=1
) -> VoxelStore:
    """:func:`extract` into a :class:`VoxelStore` on disk, instead of memory.

    The store lives under ``root`` (a feature-cache folder or a
    ``joblib.Memory``: an interrupted extraction goes on from the rows already
    written) or, with ``root=None``, in a temporary folder removed when the
    store is dropped. Workers write their rows straight into the store:
    nothing is sent back to this process, so ``n_jobs`` pays off where
    shipping voxels back cost as much as reading them.
    """
    if len(images) == 0:
        raise TxpredictError("No images to extract features from (got 0 subjects).")
    if isinstance(root, joblib.Memory):  # a model's memory parameter
        root = root.location
    description = store_description(images, subjects, specs, grid)
    shape = {"n_rows": len(images), "n_features": sum(s.n_features for s in specs)}
    if root is None or None in description["files"]:  # in-memory images: scratch
        store = VoxelStore.scratch(description, **shape)
    else:
        store = VoxelStore.open(root, description, **shape)
    missing = store.missing_rows()
    if len(missing):
        n_workers = joblib.effective_n_jobs(n_jobs)
        size = max(1, min(10, -(-len(missing) // (4 * n_workers))))
        batches = [missing[i : i + size] for i in range(0, len(missing), size)]
        bar = _progress_bar(len(missing), verbose, "Extracting features to disk")
        try:
            done = joblib.Parallel(
                n_jobs=n_jobs, return_as="generator", max_nbytes=None
            )(
                joblib.delayed(_store_rows)(images, subjects, rows, specs, grid, store)
                for rows in batches
            )
            for count in done:
                if bar:
                    bar.update(count)
        finally:
            if bar:
                bar.close()
    if not store.complete:
        store.finish()
    return store
