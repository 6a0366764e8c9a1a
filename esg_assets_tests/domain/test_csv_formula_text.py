"""The CSV is the system-of-record file and stays byte-exact: names that a spreadsheet would read
as formulas are written as they came (no leading quote, no escaping); the user guide says how to
import the file as text (docs/user-guide.md, "Opening the CSV safely in Excel")."""

from pathlib import Path

import pytest

from esg_assets.domain.csv_format import encode_lines

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x.example/","click")', "@SUM(A1:A9)", "+1-555-0100",
                                  "-2+3", "\tTabbed", "=1+1"])
def test_formula_like_names_are_written_as_they_came(name: str) -> None:
    data = b"".join(encode_lines(["Account ID", "Account Name"], [["ACC-1", name]]))
    quoted = '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\r\n') else name
    assert data == f"Account ID,Account Name\r\nACC-1,{quoted}\r\n".encode()


def test_the_user_guide_explains_importing_as_text() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert "Opening the CSV safely in Excel" in text and "Data Type → Text" in text
