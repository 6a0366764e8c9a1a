"""`make bench`: performance figures of the daily job against the sandbox (not a test).

See docs/benchmarks.md for what each scenario measures and what bounds it.
"""
