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
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import joblib
import numpy as np
import pandas as pd

from txpredict._images import Grid, ImageLike, check_grid, load_image
from txpredict._io import atomic_path
from txpredict.errors import TxpredictError

PROGRESS_MIN_IMAGES = 20


class ExtractionSpec(Protocol):
    """What one extractor computes from one subject's image array."""

    key: str
    n_features: int
    ndim: int

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
    ident = f"{os.path.abspath(image)}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha1(ident.encode()).hexdigest()


class FeatureCache:
    """``<location>/txpredict_features/<spec key>/<file identity>.npy``."""

    def __init__(self, memory):
        if isinstance(memory, joblib.Memory):
            memory = memory.location
        self.root = Path(memory) / "txpredict_features"

    def _path(self, key: str, ident: str) -> Path:
        return self.root / key / f"{ident}.npy"

    def get(self, key: str, ident: str) -> np.ndarray | None:
        """Cached vector, or None when absent or unreadable."""
        try:
            return np.load(self._path(key, ident))
        except (OSError, ValueError, EOFError):
            return None

    def put(self, key: str, ident: str, vector: np.ndarray) -> None:
        """Store a vector atomically (parallel writers never see half a file)."""
        with atomic_path(self._path(key, ident)) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, vector)


def make_cache(memory) -> FeatureCache | None:
    """The feature cache for a ``memory`` parameter (None disables caching)."""
    if memory is None or (
        isinstance(memory, joblib.Memory) and memory.location is None
    ):
        return None
    return FeatureCache(memory)


def _extract_one(image, subject, specs, grid, cache) -> list[np.ndarray]:
    ident = _file_identity(image) if cache is not None else None
    vectors = [cache.get(s.key, ident) if ident else None for s in specs]
    missing = [i for i, v in enumerate(vectors) if v is None]
    if missing:
        img, data = load_image(image, subject)
        check_grid(img, grid, subject, image)
        for i in missing:
            vectors[i] = specs[i].compute(data, img, subject, image)
            if ident:
                cache.put(specs[i].key, ident, vectors[i])
    return vectors


def _extract_batch(images, subjects, specs, grid, memory) -> list[list[np.ndarray]]:
    cache = make_cache(memory)
    return [
        _extract_one(im, sub, specs, grid, cache)
        for im, sub in zip(images, subjects, strict=True)
    ]


def extract(
    images: Sequence[ImageLike],
    subjects: Sequence[str],
    specs: Sequence[ExtractionSpec],
    grid: Grid,
    *,
    n_jobs=None,
    memory=None,
    verbose: int = 1,
) -> list[np.ndarray]:
    """Run every spec on every image, reading each image once.

    Returns one array of shape (n_images, spec.n_features) per spec, rows in
    the order of ``images`` whatever ``n_jobs`` is.
    """
    n = len(images)
    if n == 0:
        raise TxpredictError("No images to extract features from (got 0 subjects).")
    n_workers = joblib.effective_n_jobs(n_jobs)
    # Several batches per worker keep the progress bar moving and the load even;
    # batching at all keeps per-task pickling of the specs (voxel indices) rare.
    n_batches = min(n, max(1, n_workers * 4 if n_workers > 1 else n // 10 or 1))
    bounds = np.linspace(0, n, n_batches + 1).astype(int)
    batches = [(bounds[i], bounds[i + 1]) for i in range(n_batches)]
    show = verbose > 0 and n >= PROGRESS_MIN_IMAGES
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="Extracting features", unit="image", file=sys.stderr)
    try:
        if n_workers == 1:
            results = []
            for lo, hi in batches:
                results.append(
                    _extract_batch(images[lo:hi], subjects[lo:hi], specs, grid, memory)
                )
                if bar:
                    bar.update(hi - lo)
        else:
            parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator")
            results = []
            for (lo, hi), out in zip(
                batches,
                parallel(
                    joblib.delayed(_extract_batch)(
                        images[lo:hi], subjects[lo:hi], specs, grid, memory
                    )
                    for lo, hi in batches
                ),
                strict=True,
            ):
                results.append(out)
                if bar:
                    bar.update(hi - lo)
    finally:
        if bar:
            bar.close()
    rows = [row for batch in results for row in batch]
    return [np.stack([row[i] for row in rows]) for i in range(len(specs))]
