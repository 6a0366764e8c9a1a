"""Dagster resources, one module per external system, and the HTTP machinery they share."""
