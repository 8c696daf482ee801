"""Resting-state (4D) summaries: fALFF and Fisher-z ROI-ROI correlations."""

from __future__ import annotations

import numpy as np

#: Low-frequency band of ALFF/fALFF, in Hz (Zou et al. 2008).
LOW_FREQUENCY_BAND = (0.01, 0.08)


def falff(timeseries: np.ndarray, t_r: float, band=LOW_FREQUENCY_BAND) -> np.ndarray:
    """Fractional amplitude of low-frequency fluctuations of each row.

    fALFF = sum of the amplitude spectrum in ``band`` / sum over all non-zero
    frequencies (Zou et al. 2008; amplitude = square root of power, as in the
    REST/DPABI implementations).

    Parameters
    ----------
    timeseries : array of shape (n_signals, n_timepoints)
    t_r : float
        Repetition time in seconds.
    band : tuple of float, default=(0.01, 0.08)

    Returns
    -------
    array of shape (n_signals,)
        NaN for a constant signal.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(200) * 2.0
    >>> slow = np.sin(2 * np.pi * 0.03 * t)[None]
    >>> bool(falff(slow, t_r=2.0)[0] > 0.9)
    True
    """
    ts = np.asarray(timeseries, dtype=np.float64)
    ts = ts - ts.mean(axis=-1, keepdims=True)
    amplitude = np.abs(np.fft.rfft(ts, axis=-1))
    freqs = np.fft.rfftfreq(ts.shape[-1], d=t_r)
    low = (freqs >= band[0]) & (freqs <= band[1])
    total = amplitude[..., freqs > 0].sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, amplitude[..., low].sum(axis=-1) / total, np.nan)


def fisher_z_correlations(signals: np.ndarray) -> np.ndarray:
    """Upper-triangle Fisher-z Pearson correlations between rows of ``signals``.

    Pairs are ordered as ``np.triu_indices(n, k=1)``; |r| is clipped below 1 so
    that z stays finite.
    """
    r = np.atleast_2d(np.corrcoef(np.asarray(signals, dtype=np.float64)))
    iu = np.triu_indices(r.shape[0], k=1)
    return np.arctanh(np.clip(r[iu], -0.999999, 0.999999))


def repetition_time(img) -> float | None:
    """Repetition time in seconds from a 4D NIfTI header, or None if absent."""
    zooms = img.header.get_zooms()
    if len(zooms) < 4 or not zooms[3] > 0:
        return None
    t_r = float(zooms[3])
    try:
        unit = img.header.get_xyzt_units()[1]
    except Exception:
        unit = "sec"
    return t_r / 1000.0 if unit == "msec" else t_r
