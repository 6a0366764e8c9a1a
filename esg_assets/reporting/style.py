"""The report's stylesheet, inlined into the page's `<style>` element.

System fonts only (nothing to download), tabular figures so columns of numbers line up, and an
A4-landscape print layout in which cards are never split across pages.
"""

CSS = """
@page { size: A4 landscape; margin: 10mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: #eef1f4; color: #1f2933; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif; font-variant-numeric: tabular-nums; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 32px; }
header { border-bottom: 3px solid #1f3a5f; margin-bottom: 14px; padding-bottom: 8px; }
.kicker { color: #1f3a5f; font-size: 12px; font-weight: 600; letter-spacing: .06em; text-transform: uppercase; }
h1 { font-size: 26px; margin: 2px 0 2px; }
h2 { font-size: 17px; margin: 20px 0 8px; color: #1f3a5f; break-after: avoid; }
h3 { font-size: 14px; margin: 0 0 6px; }
.meta, .note { color: #52606d; font-size: 12.5px; margin: 4px 0; }
.tiles { display: grid; grid-template-columns: repeat(6, 1fr); gap: 10px; }
.tiles.averages { grid-template-columns: repeat(4, 1fr); margin-top: 10px; }
.tile { background: #fff; border: 1px solid #d9dde3; border-top: 4px solid #5b6470; border-radius: 6px;
  padding: 8px 12px 10px; break-inside: avoid; }
.tile .label { color: #52606d; font-size: 11.5px; font-weight: 600; letter-spacing: .05em; text-transform: uppercase; }
.tile .value { display: block; font-size: 28px; font-weight: 700; line-height: 1.2; margin: 2px 0; }
.tile .sub { color: #52606d; font-size: 12px; }
.tile.alert { background: #fdecea; }
.inline { font-weight: 600; color: #1f2933; }
.badge { display: inline-block; margin-top: 4px; padding: 1px 7px; border-radius: 9px; font-size: 11.5px; font-weight: 600; }
.badge.ok { background: #e3f1e4; color: #1b5e20; }
.badge.bad { background: #c62828; color: #fff; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; align-items: start; }
.cards.four { grid-template-columns: repeat(4, 1fr); }
.card { background: #fff; border: 1px solid #d9dde3; border-radius: 6px; padding: 10px 12px; break-inside: avoid; }
.chart { display: block; width: 100%; height: auto; }
table { border-collapse: collapse; margin-top: 8px; }
caption { text-align: left; color: #52606d; font-size: 11.5px; padding-bottom: 2px; }
.mini th, .mini td { border-bottom: 1px solid #e6e9ed; padding: 2px 8px; font-size: 12.5px; text-align: right; }
.mini th[scope=row], .mini thead th:first-child { text-align: left; font-weight: 600; }
.mini thead th { color: #52606d; font-weight: 600; border-bottom: 1px solid #b8c0c8; }
.card .mini { width: 100%; }
.wide { width: 100%; background: #fff; border: 1px solid #d9dde3; }
.wide caption { padding: 0 0 2px; background: #eef1f4; }
.history td, .history th { font-size: 11.5px; padding: 1px 6px; }
ol.failed { columns: 9.5em auto; column-gap: 1.2em; column-rule: 1px solid #e6e9ed; list-style: none; margin: 6px 0 0;
  padding: 8px 12px; background: #fff; border: 1px solid #d9dde3; border-radius: 6px;
  font: 12.5px/1.5 ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; }
ol.failed.compact { columns: 8em auto; font-size: 10.5px; line-height: 1.35; }
ol.failed li { break-inside: avoid; }
footer { margin-top: 24px; border-top: 1px solid #d9dde3; color: #52606d; font-size: 12px; }
@media (max-width: 1000px) { .tiles { grid-template-columns: repeat(3, 1fr); } .cards, .cards.four { grid-template-columns: 1fr 1fr; } }
@media print {
  body { background: #fff; font-size: 12px; }
  main { max-width: none; padding: 0; }
  .wide caption { background: #fff; }
  section { break-inside: auto; }
}
""".strip()
