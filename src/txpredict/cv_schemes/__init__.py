"""How cross-validation schemes mislead: a benchmark on synthetic cohorts."""

from txpredict.cv_schemes._benchmark import QUICK, compare_cv_schemes
from txpredict.cv_schemes._result import CVSchemesResult
from txpredict.cv_schemes._schemes import SCHEMES

__all__ = ["QUICK", "SCHEMES", "CVSchemesResult", "compare_cv_schemes"]
