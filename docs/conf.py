"""Sphinx configuration of txpredict's documentation site (``make docs``).

Offline by design: no intersphinx inventories, no remote images. The gallery
(``examples/``) is executed at every build, so its figures and printed tables
are those of the code as it stands.
"""

from __future__ import annotations

import os
import warnings

import txpredict

project = "txpredict"
author = "the txpredict developers"
copyright = "2026, the txpredict developers"
release = txpredict.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]
html_static_path = ["_static"]

# -- the API reference ---------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
# numpydoc renders the sections; the member lists come from autosummary.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Types in docstrings stay literal text: with no intersphinx (offline), links
# to numpy or scikit-learn types could not resolve.
numpydoc_xref_param_type = False

# -- Markdown pages ----------------------------------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- the gallery -------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every example is executed
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "reference_url": {},
    "show_memory": False,
    "min_reported_time": 1,
}
# The examples' joblib calls run in the build's own process (like the tests').
os.environ.setdefault("JOBLIB_MULTIPROCESSING", "0")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

# -- the pages ---------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"txpredict {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "navbar_align": "left",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "install": []}
html_show_sourcelink = False

# -- the API reference's page, from the packages' __all__ (docs/api_reference.py)
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import api_reference  # noqa: E402

api_reference.write(Path(__file__).with_name("api.rst"))


def _skip_metadata_routing(app, what, name, obj, skip, options):
    """Leave out the metadata-routing setters scikit-learn adds to every estimator."""
    if (name.startswith("set_") and name.endswith("_request")) or name == (
        "get_metadata_routing"
    ):
        return True
    return None


def setup(app):
    """Sphinx's hook: connect the filter above."""
    app.connect("autodoc-skip-member", _skip_metadata_routing)


# -- the configuration reference, from the run's schema (docs/config_reference.py)
import config_reference  # noqa: E402

config_reference.write(
    Path(__file__).parent / "user_guide" / "configuration_reference.md"
)
