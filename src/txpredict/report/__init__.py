"""HTML reports (Jinja2 template shipped with the package, figures embedded)."""

from txpredict.report._html import render_report
from txpredict.report._modality import render_modality_report
from txpredict.report._regression import render_regression_report

__all__ = ["render_modality_report", "render_regression_report", "render_report"]
