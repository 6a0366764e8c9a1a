"""The daily HTML report (`FirmESGReport_YYYYMMDD.html`): inline-SVG charts and the page."""

from esg_assets.reporting.html_report import render_report

__all__ = ["render_report"]
