"""The day's files beyond the CSVs: the Parquet file, the workbook and the manifest (§3c-§3e)."""
