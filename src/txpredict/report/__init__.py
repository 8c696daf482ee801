"""HTML reports (Jinja2 template shipped with the package, figures embedded)."""

from txpredict.report._html import render_report

__all__ = ["render_report"]
