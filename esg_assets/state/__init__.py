"""The DuckDB state database: accounts, results per partition, runs, job history."""
