"""``python -m txpredict``: the command line."""

import sys

from txpredict.cli import main

sys.exit(main())
