"""ESG ratings batch job: a daily-partitioned Dagster asset graph.

`dagster ... -m esg_assets` loads the definitions through this package; importing it does no I/O.

It does set the process's umask to 077: every process of the job imports this package first (the
`dagster` CLI, the daemon, the webserver's code server, each run worker, `esg-ratings`), and
Dagster's event logs and compute logs name account IDs. Without it they were 0644 in 0755
folders, readable by every user of the machine (docs/security.md, "What a reader of DAGSTER_HOME
sees"). Files meant for other users (the Prometheus textfile) are given their mode explicitly.
"""

import os

os.umask(0o077)

from esg_assets.definitions import defs  # noqa: E402 - after the umask, before anything writes

__all__ = ["defs"]
