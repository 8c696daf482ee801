"""HTML reports (Jinja2 template shipped with the package, figures embedded).

Besides the three reports and the TRIPOD+AI checklist, the face other
packages use to draw their own pages: figures (``subplots``, ``png_bytes``)
and the page template (``template``, ``table_cells``).
"""

from txpredict.report._figures import png_bytes, subplots
from txpredict.report._html import render_report, table_cells, template
from txpredict.report._modality import render_modality_report
from txpredict.report._regression import render_regression_report
from txpredict.report._summary import PLAN_CHECK
from txpredict.report._tripod import checklist_markdown, tripod_ai_checklist

__all__ = [
    "PLAN_CHECK",
    "checklist_markdown",
    "png_bytes",
    "render_modality_report",
    "render_regression_report",
    "render_report",
    "subplots",
    "table_cells",
    "template",
    "tripod_ai_checklist",
]
