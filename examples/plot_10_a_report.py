"""
From a configuration file to a report
=====================================

Everything above, without writing Python: one TOML file names the study, the
model and the cross-validation, and ``txpredict run analysis.toml`` (here
:func:`txpredict.run.run_analysis`, what the command calls) writes the tables,
the fitted model, the leakage checks, the TRIPOD+AI checklist and an HTML
report that answers first. ``txpredict plan`` would fix all of it before the
outcomes are seen.
"""

# %%
import tempfile
from pathlib import Path

import txpredict as tp
from txpredict.run import read_config, run_analysis

folder = Path(tempfile.mkdtemp())
tp.make_synthetic_cohort(
    80, effect="prognostic", grid="fsl6", random_state=9, out_dir=folder / "study"
)
(folder / "analysis.toml").write_text(
    """
[data]
dataset = "study"
image_pattern = "sub-{subject}/func/sub-{subject}_task-faces_stat-effect_statmap.nii.gz"
outcome = "responder"

[model]
features = "roi"

[cv]
n_repeats = 2
n_permutations = 99
added_value_permutations = 19

[output]
folder = "results"
"""
)
results = run_analysis(read_config(folder / "analysis.toml"), progress=lambda _: None)
print(sorted(p.name for p in results.iterdir()))

# %%
# The report opens with its answers, each with its interval: its first list,
# as text.
import html  # noqa: E402
import re  # noqa: E402

page = (results / "report.html").read_text()
answers = page[page.index('<ul class="answers">') : page.index("</ul>")]
for item in re.findall(r"<li>(.*?)</li>", answers, flags=re.S):
    text = html.unescape(re.sub(r"<[^>]+>", "", item))
    print("-", re.sub(r"\s+", " ", text).strip())
