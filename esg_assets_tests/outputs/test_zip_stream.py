"""The forward-written zip of the workbook (`outputs/zip_stream.py`): CRC-32s combined as zlib
does, deflate pieces laid one after the other readable as one stream, every size in the local
headers, and the workbook's archive checked entry by entry by `zipfile` (CRC included)."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

from esg_assets.outputs.workbook import workbook_chunks
from esg_assets.outputs.zip_stream import Deflated, ZipWriter, crc32_combine
from esg_assets_tests.support.rows import sample_rows


def test_crc32_combine_is_zlibs() -> None:
    for a_len, b_len in ((0, 0), (0, 7), (5, 0), (1, 1), (1000, 65537), (3, 1 << 20)):
        a, b = os.urandom(a_len), os.urandom(b_len)
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b), (a_len, b_len)


def test_pieces_make_one_entry_with_sizes_in_the_local_header() -> None:
    head, middle, tail = b"<head>" * 100, os.urandom(70_000), b"</tail>"
    out = ZipWriter()
    pieces = [Deflated.of(head, final=False), Deflated.of(middle, final=False), Deflated.of(tail, final=True)]
    data = b"".join([*out.entry("a/b.xml", pieces, (1980, 1, 1, 0, 0, 0)),
                     *out.entry("c.txt", [Deflated.of(b"", final=True)], (2026, 11, 27, 5, 0, 2)), *out.end()])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["a/b.xml", "c.txt"]
        assert archive.read("a/b.xml") == head + middle + tail and archive.read("c.txt") == b""
        assert archive.getinfo("c.txt").date_time == (2026, 11, 27, 5, 0, 2)
    flags, _method, _t, _d, crc, compressed, size = struct.unpack("<HHHHIII", data[6:26])
    assert flags == 0 and size == len(head + middle + tail) and crc == zlib.crc32(head + middle + tail)
    assert compressed == sum(p.compressed for p in pieces)


def test_the_workbooks_archive_is_sound() -> None:
    data = b"".join(workbook_chunks(sample_rows() * 500))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist()[:4] == ["[Content_Types].xml", "_rels/.rels", "xl/_rels/workbook.xml.rels",
                                          "xl/worksheets/sheet1.xml"]
        assert all(info.flag_bits & 0x08 == 0 for info in archive.infolist())  # no data descriptors
