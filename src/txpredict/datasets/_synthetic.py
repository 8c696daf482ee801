"""Synthetic cohorts: realistic pre-treatment maps and responses from a known model.

The generative model (all coefficients are on the logit scale; arm code
a = +1 for the second arm, SSRI+CBT, and -1 for the first, CBT)::

    logit P(response | arm) = b0 + b_arm * a
                              + b_cuneus * cuneus            (prognostic, Marwood 2018)
                              + b_interaction * dACC * a     (moderator, Frick 2018)
                              + b_coupling * coupling        (Månsson 2015)
                              + b_severity * severity_z + b_age * age_z

Each subject has latent regional activations (dACC, pgACC, sgACC, cuneus,
amygdala ~ N(0, 1)) which enter the image as smooth blobs centred on the default
ROIs, plus spatially smooth noise inside nilearn's MNI brain mask. The ROI means a
feature extractor measures are therefore noisy readings of the latents, as in
real data. The ground truth kept on the cohort (true response probability under
each arm, better arm, Bayes-optimal balanced accuracy) lets tests and users see
how close an analysis gets to the limit.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import joblib
import nibabel as nib
import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter
from scipy.special import expit, logit

from txpredict._images import Grid, gzip_codec, mni_brain_mask
from txpredict._io import atomic_directory
from txpredict.cohort import Cohort, load_cohort
from txpredict.datasets._grids import get_grid
from txpredict.datasets._sites import assign_sites, site_map, site_profile
from txpredict.errors import TxpredictError
from txpredict.features import default_rois

REGIONS = ("dACC", "pgACC", "sgACC", "cuneus", "amygdala")
DEFAULT_ARMS = ("CBT", "SSRI+CBT")
_BASE = {
    "b0": 0.0,
    "b_arm": 0.0,
    "b_cuneus": 0.0,
    "b_interaction": 0.0,
    "b_coupling": 0.0,
    "b_severity": 0.0,
    "b_age": 0.0,
}
_DEMOGRAPHIC = {"b_severity": -0.4, "b_age": -0.15}
_PROGNOSTIC = {**_DEMOGRAPHIC, "b_cuneus": 1.0, "b_coupling": -0.3}
#: Logit coefficients of each ``effect`` setting.
EFFECTS: dict[str, dict[str, float]] = {
    "none": dict(_BASE),
    "demographics": {**_BASE, **_DEMOGRAPHIC},
    "prognostic": {**_BASE, **_PROGNOSTIC},
    "interaction": {**_BASE, **_PROGNOSTIC, "b_arm": 0.2, "b_interaction": 1.5},
}
_SEVERITY_MEAN, _SEVERITY_SD = 70.0, 15.0  # LSAS-like scale
_AGE_LOW, _AGE_HIGH = 18, 65
_BLOB_SIGMA_MM = 6.0
_SUBJECT_NOISE_FWHM_MM = 8.0
RESPONSE_RULE = "synthetic: Bernoulli draw from the true response probability"
#: Percentage points of symptom reduction per unit of the response log-odds.
_REDUCTION_SCALE = 15.0


def _latent_population(rng, n):
    latents = pd.DataFrame(rng.standard_normal((n, len(REGIONS))), columns=REGIONS)
    latents["coupling"] = rng.standard_normal(n)
    age = rng.integers(_AGE_LOW, _AGE_HIGH + 1, n)
    sex = np.where(rng.random(n) < 0.6, "F", "M")
    severity = np.clip(np.round(rng.normal(_SEVERITY_MEAN, _SEVERITY_SD, n)), 30, 144)
    return latents, age, sex, severity


def _age_z(age):
    """Age in SD units of the uniform 18-65 population."""
    return (age - (_AGE_LOW + _AGE_HIGH) / 2) / ((_AGE_HIGH - _AGE_LOW) / np.sqrt(12))


def _brain_logits(coef, latents, arm_code):
    """The brain's share of the response log-odds (what generalises to a new site)."""
    return (
        coef["b_cuneus"] * latents["cuneus"].to_numpy()
        + coef["b_interaction"] * latents["dACC"].to_numpy() * arm_code
        + coef["b_coupling"] * latents["coupling"].to_numpy()
    )


def _brain_balanced_accuracy(brain_logit, p) -> float:
    """Balanced accuracy of predicting response from the brain's log-odds alone.

    Responder when the brain's share of the log-odds is above its median,
    scored against the true response probability ``p`` (site, age and
    severity are noise to it): 0.5 exactly without a brain signal.
    """
    if np.ptp(brain_logit) < 1e-12:
        return 0.5
    predicted = brain_logit > np.median(brain_logit)
    sensitivity = (p * predicted).sum() / p.sum()
    specificity = ((1 - p) * ~predicted).sum() / (1 - p).sum()
    return float((sensitivity + specificity) / 2)


def _site_profiles(n_sites, site_names, strength):
    """{name: SiteProfile} of a multi-site cohort, or None for one population."""
    if n_sites is None and site_names is None:
        return None
    names = (
        [f"site{k + 1}" for k in range(int(n_sites))]
        if site_names is None
        else [str(s) for s in site_names]
    )
    if n_sites is not None and len(names) != int(n_sites):
        raise TxpredictError(
            f"n_sites={n_sites} but {len(names)} site_names were given; give one "
            "name per site (or only one of the two)."
        )
    if len(names) < 1 or len(set(names)) != len(names):
        raise TxpredictError(f"site_names must be distinct names; got {names!r}.")
    return {name: site_profile(name, strength) for name in names}


def _response_logits(coef, latents, age, severity, arm_code):
    age_z = _age_z(age)
    severity_z = (severity - _SEVERITY_MEAN) / _SEVERITY_SD
    return (
        coef["b0"]
        + coef["b_arm"] * arm_code
        + coef["b_cuneus"] * latents["cuneus"].to_numpy()
        + coef["b_interaction"] * latents["dACC"].to_numpy() * arm_code
        + coef["b_coupling"] * latents["coupling"].to_numpy()
        + coef["b_severity"] * severity_z
        + coef["b_age"] * age_z
    )


def bayes_balanced_accuracy(coef, rng, n=200_000) -> float:
    """Balanced accuracy of the best classifier of the observed response.

    The Bayes classifier knows each subject's true response probability p under
    the arm received; for balanced accuracy it predicts "responder" when p
    exceeds the responder prevalence. Estimated on ``n`` simulated patients
    (latents only, no images), randomised 1:1.
    """
    latents, age, _, severity = _latent_population(rng, n)
    arm_code = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    p = expit(_response_logits(coef, latents, age, severity, arm_code))
    prevalence = p.mean()
    if np.ptp(p) < 1e-12:
        return 0.5
    predicted = p > prevalence
    sensitivity = (p * predicted).sum() / p.sum()
    specificity = ((1 - p) * ~predicted).sum() / (1 - p).sum()
    return float((sensitivity + specificity) / 2)


def population_prevalence(effect, n=200_000, seed=0) -> float:
    """Responder proportion of the population of an ``effect`` setting.

    Estimated on ``n`` simulated patients (latents only, randomised 1:1), like
    :func:`bayes_balanced_accuracy`; exactly 0.5 for ``effect="none"``.

    Parameters
    ----------
    effect : str
        The population (:data:`EFFECTS`).
    n : int, default=200000
        Simulated patients.
    seed : int, default=0
        Their seed.
    """
    rng = np.random.default_rng(seed)
    latents, age, _, severity = _latent_population(rng, n)
    arm_code = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    logits = _response_logits(EFFECTS[effect], latents, age, severity, arm_code)
    return float(expit(logits).mean())


def _blob_weights(grid: Grid, mask_flat: np.ndarray):
    """Sparse (indices, weights) of each region's Gaussian blob(s) on the grid."""
    coords = grid.world_coordinates()
    blobs = {}
    for region in REGIONS:
        centres = [r.center for r in default_rois() if r.name.split("_")[0] == region]
        weight = np.zeros(len(coords), dtype=np.float32)
        for centre in centres:
            d2 = ((coords - np.asarray(centre)) ** 2).sum(axis=1)
            weight = np.maximum(weight, np.exp(-d2 / (2 * _BLOB_SIGMA_MM**2)))
        keep = np.flatnonzero((weight > 0.01) & mask_flat)
        blobs[region] = (keep, weight[keep])
    return blobs


def _smooth_noise(rng, grid: Grid, fwhm_mm: float) -> np.ndarray:
    noise = rng.standard_normal(grid.shape, dtype=np.float32)
    sigma = fwhm_mm / (np.sqrt(8 * np.log(2)) * grid.voxel_size)
    smooth = gaussian_filter(noise, sigma, truncate=3.0)
    # Unit variance whatever the kernel: the theoretical std of filtered white noise
    # is sqrt(sum of squared kernel weights), estimated here from the field itself.
    return smooth / smooth.std()


def _contrast_map(
    seed, grid, mask_flat, blobs, latent_row, group_map, scanner=None, noise_scale=1.0
):
    rng = np.random.default_rng(seed)
    volume = _smooth_noise(rng, grid, _SUBJECT_NOISE_FWHM_MM).ravel(order="F")
    if noise_scale != 1.0:
        volume *= noise_scale
    volume += group_map
    if scanner is not None:
        volume += scanner
    for region, (idx, weight) in blobs.items():
        volume[idx] += latent_row[region] * weight
    volume[~mask_flat] = 0.0
    return volume.reshape(grid.shape, order="F")


def _band_limited(rng, n_timepoints, t_r, band=(0.01, 0.08)):
    spectrum = np.fft.rfft(rng.standard_normal(n_timepoints))
    freqs = np.fft.rfftfreq(n_timepoints, d=t_r)
    spectrum[(freqs < band[0]) | (freqs > band[1])] = 0
    signal = np.fft.irfft(spectrum, n=n_timepoints)
    return signal / (signal.std() or 1.0)


def _rest_run(seed, grid, mask_flat, blobs, latent_row, n_timepoints, t_r):
    """4D BOLD with regional low-frequency signals and dACC-amygdala coupling.

    A region's amplitude grows with its latent; the coupling follows the
    subject's latent coupling.
    """
    rng = np.random.default_rng(seed)
    signals = {r: _band_limited(rng, n_timepoints, t_r) for r in REGIONS}
    r_coupling = np.tanh(0.5 + 0.4 * latent_row["coupling"])
    signals["amygdala"] = (
        r_coupling * signals["dACC"] + np.sqrt(1 - r_coupling**2) * signals["amygdala"]
    )
    inside = np.flatnonzero(mask_flat)
    data = np.zeros((grid.n_voxels, n_timepoints), dtype=np.float32)
    data[inside] = 100.0 + rng.standard_normal(
        (len(inside), n_timepoints), dtype=np.float32
    )
    for region, (idx, weight) in blobs.items():
        amplitude = 2.0 * np.exp(0.3 * latent_row[region])
        data[idx] += (amplitude * weight)[:, None] * signals[region][None, :]
    return data.reshape(*grid.shape, n_timepoints, order="F")


def _nifti_gz_bytes(data, affine, t_r=None) -> bytes:
    img = nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine)
    img.header.set_xyzt_units("mm", "sec")
    if t_r is not None:
        zooms = img.header.get_zooms()
        img.header.set_zooms((*zooms[:3], t_r))
    # Level 1: these files are regenerated at will; speed matters more than size.
    return gzip_codec.compress(img.to_bytes(), compresslevel=1)


def make_synthetic_cohort(
    n_subjects: int = 100,
    *,
    effect: str = "interaction",
    random_state=None,
    out_dir=None,
    grid="fsl2",
    rest: bool = False,
    rest_grid="fsl4",
    n_timepoints: int = 100,
    t_r: float = 2.0,
    arms: tuple[str, str] = DEFAULT_ARMS,
    n_sites: int | None = None,
    site_names=None,
    site_effect: float = 1.0,
    age_effect: float = 0.0,
    n_jobs=None,
    overwrite: bool = False,
) -> Cohort:
    """A synthetic CBT / SSRI + CBT study with known ground truth.

    Pre-treatment contrast maps (faces > shapes, say) on an MNI grid, with
    spatially smooth noise inside nilearn's MNI152 brain mask and regional
    signals at the default ROIs; demographics (age, sex, baseline severity,
    site); a randomised arm (permuted blocks of 4); and a response drawn from the
    model in the module docstring.

    Parameters
    ----------
    n_subjects : int, default=100
    effect : {"interaction", "prognostic", "demographics", "none"}, \
            default="interaction"
        What drives response (coefficients in :data:`EFFECTS`): "interaction"
        adds a dACC x arm moderator (Frick et al. 2018) to the prognostic cuneus
        effect and weak demographic effects; "prognostic" has no moderator;
        "demographics" no brain effect; "none" is null data.
    random_state : int, numpy.random.Generator or None, default=None
    out_dir : str, pathlib.Path or None, default=None
        Write a BIDS-like dataset there (atomically: all of it or nothing) and
        return it as read back by :func:`load_cohort`. None keeps the images in
        memory.
    grid : str, Grid or (shape, affine), default="fsl2"
        Grid of the contrast maps: a name of :data:`txpredict.datasets.GRIDS`
        (``"fsl2"``: FSL MNI152 2 mm, 91 x 109 x 91; ``"fsl6"`` is small for
        tests), a Grid, or a (shape, affine) pair.
    rest : bool, default=False
        Also make a 4D resting-state run per subject (column ``rest``) with
        regional low-frequency signals and dACC-amygdala coupling.
    rest_grid : str, Grid or (shape, affine), default="fsl4"
    n_timepoints : int, default=100
    t_r : float, default=2.0
    arms : tuple of two str, default=("CBT", "SSRI+CBT")
    n_sites : int or None, default=None
        A multi-site study: patients of ``n_sites`` sites (unequal sizes), each
        with its own scanner (an additive offset of every region and of the
        whole brain, and its own noise level), its own recruitment (age and
        severity shifted) and its own response rate (site confounded with
        outcome): see :func:`txpredict.datasets.site_profile`. None: a
        single-population study whose ``site`` column has no effect.
    site_names : sequence of str or None, default=None
        The sites' names (default ``site1``, ``site2``, ...). A site's effects
        follow from its name: a cohort of other names is an independent
        cohort from other sites, for external validation.
    site_effect : float, default=1.0
        Strength of every site effect (0: sites without any effect).
    age_effect : float, default=0.0
        An age effect on both the images (every region's activation moves by
        ``age_effect`` per SD of age) and the outcome (its log-odds too): age
        then confounds the brain-outcome relation.
    n_jobs : int or None, default=None
        Processes generating images; the result does not depend on it.
    overwrite : bool, default=False
        Allow replacing a non-empty ``out_dir``.

    Returns
    -------
    Cohort
        With ``ground_truth`` (``p_response_<arm>`` per arm, ``better_arm``, the
        latents, ``brain_logit``: the part of the response log-odds that
        comes from the brain, which is what generalises to a new site, and
        ``symptom_reduction``: the same response as a percent reduction of
        symptoms, >= 50 exactly for responders, clipped to [-100, 100], with
        the expectation of the unclipped value ``expected_reduction``, for
        continuous outcomes) and
        ``info["bayes_balanced_accuracy"]``; multi-site cohorts also have
        ``info["brain_balanced_accuracy"]``, the balanced accuracy of the
        brain signal alone (0.5 when the outcome has no brain signal) and
        ``info["sites"]``, each site's effects.

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(20, grid="fsl6", random_state=0)
    >>> cohort.X.columns.tolist()
    ['age', 'sex', 'baseline_severity', 'site', 'treatment', 'image']
    >>> sorted(cohort.ground_truth.columns)[:2]
    ['amygdala', 'better_arm']
    >>> study = tp.make_synthetic_cohort(
    ...     40, effect="none", n_sites=4, grid="fsl6", random_state=0)
    >>> sorted(study.X["site"].unique())
    ['site1', 'site2', 'site3', 'site4']
    >>> study.info["brain_balanced_accuracy"]
    0.5
    """
    if effect not in EFFECTS:
        raise TxpredictError(
            f"The 'effect' parameter must be one of {sorted(EFFECTS)}. "
            f"Got {effect!r} instead."
        )
    if int(n_subjects) < 4:
        raise TxpredictError(f"n_subjects must be at least 4; got {n_subjects!r}.")
    if len(arms) != 2 or len(set(arms)) != 2:
        raise TxpredictError(f"arms must be two distinct names; got {arms!r}.")
    n = int(n_subjects)
    rng = np.random.default_rng(random_state)
    seeds = np.random.SeedSequence(rng.integers(2**63))
    population_seed, subject_seed, rest_seed = seeds.spawn(3)
    study = _tabular_study(
        rng,
        n,
        effect=effect,
        arms=arms,
        n_sites=n_sites,
        site_names=site_names,
        site_effect=site_effect,
        age_effect=age_effect,
        population_seed=population_seed,
    )
    study.info["random_state"] = random_state if isinstance(random_state, int) else None
    grid = get_grid(grid)
    volumes = _contrast_maps(study, grid, subject_seed, n_jobs)
    rest_run = None
    if rest:
        rgrid = get_grid(rest_grid)
        runs = _rest_runs(study, rgrid, rest_seed, n_timepoints, t_r, n_jobs)
        rest_run = _RestRuns(rgrid, runs, t_r)
        study.info.update(
            rest_grid=repr(rest_run.grid), n_timepoints=n_timepoints, t_r=t_r
        )
    if out_dir is None:
        return _in_memory_cohort(study, grid, volumes, rest_run, arms)
    return _write_dataset(out_dir, study, grid, volumes, rest_run, arms, overwrite)


class _Study(NamedTuple):
    """The tabular part of a synthetic study: everything but the images."""

    participants: pd.DataFrame
    truth: pd.DataFrame
    activations: pd.DataFrame  # each region's latent activation in the images
    site: np.ndarray
    profiles: dict | None
    info: dict


class _RestRuns(NamedTuple):
    grid: Grid
    volumes: list
    t_r: float


def _tabular_study(
    rng,
    n,
    *,
    effect,
    arms,
    n_sites,
    site_names,
    site_effect,
    age_effect,
    population_seed,
) -> _Study:
    """Demographics, sites, arms, the latents and the response they draw.

    The generative model of the module docstring; images are rendered from
    its ``activations`` afterwards.
    """
    coef = EFFECTS[effect]
    latents, age, sex, severity = _latent_population(rng, n)
    profiles = _site_profiles(n_sites, site_names, site_effect)
    if profiles is None:
        # Single population: a site label without any effect.
        site = rng.choice(["site1", "site2", "site3"], size=n)
    else:
        site = assign_sites(rng, n, list(profiles))
        age = np.clip(
            np.round(age + np.array([profiles[s].age_shift for s in site])),
            _AGE_LOW,
            _AGE_HIGH,
        ).astype(int)
        severity = np.clip(
            np.round(severity + np.array([profiles[s].severity_shift for s in site])),
            30,
            144,
        )
    blocks = np.concatenate([rng.permutation([0, 0, 1, 1]) for _ in range(n // 4 + 1)])
    arm_index = blocks[:n]
    # Site and age shift the log-odds on top of the documented model.
    other_logit = _age_z(age) * age_effect
    if profiles is not None:
        other_logit = other_logit + np.array([profiles[s].response_logit for s in site])
    p_arm = {
        arm: expit(_response_logits(coef, latents, age, severity, code) + other_logit)
        for arm, code in zip(arms, (-1.0, 1.0), strict=True)
    }
    p_received = np.where(arm_index == 1, p_arm[arms[1]], p_arm[arms[0]])
    uniform = rng.random(n)
    responder = (uniform < p_received).astype(int)
    # The same draw as a symptom reduction (%): responder <=> reduction >= 50%,
    # a logistic latent scaled to a plausible spread of change scores.
    # A score cannot fall below 0: reductions are clipped at 100% (and -100%).
    reduction = np.clip(
        50.0 + _REDUCTION_SCALE * (logit(p_received) - logit(uniform)), -100, 100
    )

    width = max(2, len(str(n)))
    ids = [f"sub-{i + 1:0{width}d}" for i in range(n)]
    participants = pd.DataFrame(
        {
            "participant_id": ids,
            "age": age,
            "sex": sex,
            "baseline_severity": severity.astype(int),
            "site": site,
            "treatment": np.asarray(arms)[arm_index],
            "responder": responder,
        }
    )
    truth = latents.copy()
    for arm in arms:
        truth[f"p_response_{arm}"] = p_arm[arm]
    truth["better_arm"] = np.where(p_arm[arms[1]] > p_arm[arms[0]], arms[1], arms[0])
    received_code = np.where(arm_index == 1, 1.0, -1.0)
    truth["brain_logit"] = _brain_logits(coef, latents, received_code)
    truth["symptom_reduction"] = reduction
    truth["expected_reduction"] = 50.0 + _REDUCTION_SCALE * logit(p_received)
    truth.insert(0, "participant_id", ids)
    info = {
        "generator": "txpredict.make_synthetic_cohort",
        "effect": effect,
        "n_subjects": n,
        "coefficients": coef,
        "bayes_balanced_accuracy": bayes_balanced_accuracy(
            coef, np.random.default_rng(population_seed)
        ),
    }
    if profiles is not None or age_effect:
        info["brain_balanced_accuracy"] = _brain_balanced_accuracy(
            truth["brain_logit"].to_numpy(), p_received
        )
    if profiles is not None:
        info["site_effect"] = site_effect
        info["sites"] = {name: asdict(p) for name, p in profiles.items()}
    info["age_effect"] = age_effect

    # Age moves every region's activation (the images' share of its confounding).
    activations = latents.add(_age_z(age)[:, None] * age_effect * (
        latents.columns.isin(REGIONS)
    ))  # fmt: skip
    return _Study(participants, truth, activations, site, profiles, info)


def _contrast_maps(study, grid, subject_seed, n_jobs) -> list:
    """Each patient's contrast map (x, y, z arrays), from their activations."""
    mask_flat = mni_brain_mask(grid).ravel(order="F")
    blobs = _blob_weights(grid, mask_flat)
    group_map = np.zeros(grid.n_voxels, dtype=np.float32)  # the task's mean activation
    for region, gain in (("amygdala", 0.5), ("dACC", 0.3)):
        idx, weight = blobs[region]
        group_map[idx] += gain * weight
    profiles, site = study.profiles, study.site
    latent_rows = study.activations.to_dict("records")
    child_seeds = subject_seed.spawn(len(site))
    scanners = (
        {}
        if profiles is None
        else {name: site_map(p, blobs, mask_flat) for name, p in profiles.items()}
    )
    return joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_contrast_map)(
            seed,
            grid,
            mask_flat,
            blobs,
            row,
            group_map,
            scanners.get(where),
            1.0 if profiles is None else profiles[where].noise_scale,
        )
        for seed, row, where in zip(child_seeds, latent_rows, site, strict=True)
    )


def _rest_runs(study, rgrid, rest_seed, n_timepoints, t_r, n_jobs) -> list:
    """Each patient's 4D resting-state run, from their activations."""
    rmask = mni_brain_mask(rgrid).ravel(order="F")
    rblobs = _blob_weights(rgrid, rmask)
    latent_rows = study.activations.to_dict("records")
    return joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_rest_run)(s, rgrid, rmask, rblobs, row, n_timepoints, t_r)
        for s, row in zip(rest_seed.spawn(len(latent_rows)), latent_rows, strict=True)
    )


def _in_memory_cohort(study, grid, volumes, rest_run, arms) -> Cohort:
    """The study as a Cohort whose images are nibabel images in memory."""
    table = study.participants.set_index("participant_id")
    table.insert(
        len(table.columns) - 1,
        "image",
        [nib.Nifti1Image(v, grid.affine) for v in volumes],
    )
    if rest_run is not None:
        rest_imgs = []
        for v in rest_run.volumes:
            img = nib.Nifti1Image(v, rest_run.grid.affine)
            img.header.set_zooms((*img.header.get_zooms()[:3], rest_run.t_r))
            rest_imgs.append(img)
        table.insert(len(table.columns) - 1, "rest", rest_imgs)
    return Cohort(
        table,
        "responder",
        "treatment",
        arms,
        (),
        RESPONSE_RULE,
        study.truth.set_index("participant_id"),
        study.info,
    )


def _write_dataset(out_dir, study, grid, volumes, rest_run, arms, overwrite) -> Cohort:
    """The study as a BIDS-like folder (all of it or nothing), read back."""
    participants, truth, info = study.participants, study.truth, study.info
    ids = participants["participant_id"].tolist()
    rest = rest_run is not None
    patterns = {
        "image": "{participant_id}/func/{participant_id}_task-faces_"
        "stat-effect_statmap.nii.gz"
    }
    if rest:
        patterns["rest"] = (
            "{participant_id}/func/{participant_id}_task-rest_bold.nii.gz"
        )
    # Checked before writing: a cohort that load_cohort would refuse (too few
    # responders at a tiny n) must not be left behind on disk.
    Cohort(participants, "responder", "treatment", arms)
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        participants.to_csv(tmp / "participants.tsv", sep="\t", index=False)
        truth.to_csv(tmp / "ground_truth.tsv", sep="\t", index=False)
        (tmp / "participants.json").write_text(
            json.dumps(_participants_sidecar(arms), indent=2)
        )
        (tmp / "dataset_description.json").write_text(
            json.dumps(
                {
                    "Name": f"txpredict synthetic cohort ({info['effect']})",
                    "BIDSVersion": "1.9.0",
                    "DatasetType": "derivative",
                    "GeneratedBy": [{"Name": "txpredict", "Parameters": info}],
                    "ImagePatterns": patterns,
                },
                indent=2,
            )
        )
        for k, (pid, volume) in enumerate(zip(ids, volumes, strict=True)):
            path = tmp / patterns["image"].format(participant_id=pid)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_nifti_gz_bytes(volume, grid.affine))
            if rest:
                (tmp / patterns["rest"].format(participant_id=pid)).write_bytes(
                    _nifti_gz_bytes(
                        rest_run.volumes[k], rest_run.grid.affine, rest_run.t_r
                    )
                )
    return load_cohort(Path(out_dir), patterns, arms=arms)


def _participants_sidecar(arms):
    return {
        "age": {"Description": "age at baseline", "Units": "years"},
        "sex": {"Description": "sex", "Levels": {"F": "female", "M": "male"}},
        "baseline_severity": {
            "Description": "pre-treatment symptom severity "
            "(LSAS-like scale, higher = more severe)"
        },
        "site": {"Description": "recruiting site"},
        "treatment": {
            "Description": "randomised treatment arm",
            "Levels": {arm: arm for arm in arms},
        },
        "responder": {
            "Description": "treatment response (1 = responder)",
            "Levels": {"0": "non-responder", "1": "responder"},
        },
    }
