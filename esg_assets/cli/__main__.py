"""`python -m esg_assets.cli ...`: the same command as `esg-ratings ...`."""

import sys

from esg_assets.cli import main

sys.exit(main())
