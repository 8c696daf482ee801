"""Report and result figures leave the user's matplotlib alone."""

import subprocess
import sys
import textwrap


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
