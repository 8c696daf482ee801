"""Sites and scanners of multi-site synthetic cohorts: what real sites do.

Each site has a scanner whose effect on the contrast maps is additive (an
offset of each region and of the whole brain) and multiplicative (a noise level
of its own), as in the model behind ComBat (Johnson et al. 2007; Fortin et al.
2018); it recruits its own patients (older or younger, more or less severe) and
has its own response rate, so that site is confounded with outcome. A site's
parameters follow from its name alone, so a site keeps its scanner in every
cohort generated with it, and a cohort of other sites (external validation)
has other scanners.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

#: Regions that carry a scanner offset (the default ROIs' regions).
_SCANNER_REGIONS = ("dACC", "pgACC", "sgACC", "cuneus", "amygdala")


@dataclass(frozen=True)
class SiteProfile:
    """The effects of one site (all 0 / 1 with ``strength=0``).

    Attributes
    ----------
    name : str
    region_offsets : dict of str to float
        Additive scanner offset of each region's activation (image units).
    global_offset : float
        Additive offset of every brain voxel.
    noise_scale : float
        Multiplier of the subject noise (the scanner's noise level).
    response_logit : float
        Shift of the site's response log-odds (recruitment, care).
    age_shift, severity_shift : float
        Shift of the site's patients' age (years) and baseline severity.
    """

    name: str
    region_offsets: dict
    global_offset: float
    noise_scale: float
    response_logit: float
    age_shift: float
    severity_shift: float


def site_profile(name: str, strength: float = 1.0) -> SiteProfile:
    """The effects of site ``name``, scaled by ``strength``.

    Deterministic in the name: a site keeps its scanner in every cohort.

    Parameters
    ----------
    name : str
        The site's name (its seed).
    strength : float, default=1.0
        Scales every site effect (0: none).

    Examples
    --------
    >>> from txpredict.datasets import site_profile
    >>> site_profile("site1") == site_profile("site1")
    True
    >>> site_profile("site1", strength=0).noise_scale
    1.0
    """
    rng = np.random.default_rng(zlib.crc32(str(name).encode("utf-8")))
    offsets = rng.normal(0.0, 0.6, len(_SCANNER_REGIONS))
    return SiteProfile(
        name=str(name),
        region_offsets={
            region: float(strength * offset)
            for region, offset in zip(_SCANNER_REGIONS, offsets, strict=True)
        },
        global_offset=float(strength * rng.normal(0.0, 0.3)),
        noise_scale=float(np.exp(strength * rng.normal(0.0, 0.25))),
        response_logit=float(strength * rng.normal(0.0, 0.8)),
        age_shift=float(strength * rng.normal(0.0, 6.0)),
        severity_shift=float(strength * rng.normal(0.0, 6.0)),
    )


def assign_sites(rng, n: int, names) -> np.ndarray:
    """Site of each of ``n`` patients: unequal sizes, every site at least 2."""
    k = len(names)
    if n < 2 * k:
        raise ValueError(f"{n} patients cannot fill {k} sites with 2 each.")
    shares = rng.dirichlet(np.full(k, 4.0))
    counts = 2 + rng.multinomial(n - 2 * k, shares)
    return rng.permutation(np.repeat(np.asarray(names, dtype=object), counts))


def site_map(profile: SiteProfile, blobs: dict, mask_flat) -> np.ndarray:
    """The additive scanner map of a site (float32, flat Fortran order)."""
    out = np.where(mask_flat, profile.global_offset, 0.0).astype(np.float32)
    for region, offset in profile.region_offsets.items():
        idx, weight = blobs[region]
        out[idx] += offset * weight
    return out
