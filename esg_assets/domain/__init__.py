"""Plain-Python domain rules of the ESG ratings job; nothing here knows Dagster or does I/O."""
