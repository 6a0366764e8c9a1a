"""The day's files beyond the CSVs: the Parquet file, the workbook and the manifest
(docs/spec.md: #parquet, #workbook, #manifest)."""
