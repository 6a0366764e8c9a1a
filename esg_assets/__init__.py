"""ESG ratings batch job: a daily-partitioned Dagster asset graph.

`dagster ... -m esg_assets` loads the definitions through this package; importing it does no I/O.
"""

from esg_assets.definitions import defs

__all__ = ["defs"]
