"""Report figures: what they draw, and that they leave the user's matplotlib alone."""

import subprocess
import sys
import textwrap

import numpy as np


def test_txpredict_keeps_the_users_backend_and_opens_no_pyplot_figure():
    # A notebook's inline backend must survive `import txpredict` and a report:
    # the figures are plain Figure objects, never registered with pyplot.
    # A fresh interpreter: the test session may have imported pyplot already.
    code = textwrap.dedent(
        """
        import sys
        import matplotlib
        matplotlib.use("svg")
        import numpy as np, pandas as pd
        import txpredict
        from txpredict.report._figures import roc_figure, png_bytes
        assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
        rng = np.random.default_rng(0)
        class Result:
            predictions = pd.DataFrame({
                "participant_id": [f"s{i}" for i in range(40)],
                "y_true": np.arange(40) % 2,
                "score": rng.normal(size=40) + np.arange(40) % 2,
            })
        assert len(roc_figure(Result())) > 1000
        assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        print("ok")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "ok"


def test_moderation_figure_shows_the_fold_stability_when_it_was_kept(monkeypatch):
    import txpredict as tp
    from txpredict.report import _modality

    drawn = []
    monkeypatch.setattr(
        _modality, "glass_brain_figure", lambda rows: drawn.append(rows) or "png"
    )
    cohort = tp.make_synthetic_cohort(
        60, effect="interaction", grid="fsl6", random_state=0
    )
    selector = tp.ModalitySelector("wholebrain", param_grid={"C": [0.1]})
    selector.fit(cohort.X, cohort.y)
    for return_maps in (False, True):
        options = {"outer_cv": 3, "n_repeats": 1, "return_maps": return_maps}
        result = tp.evaluate_selection(selector, cohort.X, cohort.y, **options)
        assert _modality._moderation_figure(selector, result) == "png"
    without, with_folds = ([title for _, title, *_ in rows] for rows in drawn)
    assert len(without) == 3 and len(with_folds) == 4
    assert "jackknife z" in with_folds[1] and with_folds[0] == without[0]
    z_image, _, threshold = drawn[1][1]
    folds = result.maps["SSRI+CBT - CBT"]
    np.testing.assert_allclose(
        z_image.get_fdata(), folds.to_img("pattern", "jackknife_z").get_fdata()
    )
    assert threshold == 1.96
