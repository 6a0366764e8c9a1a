"""A zip archive written forward as chunks, from entries whose deflated bytes are already made.

Why not `zipfile`: the workbook's sheet entry is made of three raw deflate streams (the part
before the rows, known only at the end; the rows, compressed as they come; the part after them)
laid one after the other, which `zipfile` cannot take without compressing everything a second
time into a second copy of the workbook in memory. A deflate stream may be followed by another
one when the first ends with a sync flush (a byte-aligned, non-final block), and the entry's
CRC-32 is combined from the parts' (`crc32_combine`, zlib's algorithm). Every size is known
before an entry is written, so each local header holds it (no data descriptors, as Excel writes
its own files). No ZIP64: an entry or the archive past 4 GiB is refused (an Excel sheet of
1,048,576 rows is far below it unless its cells hold megabytes).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

_LIMIT = 0xFFFFFFFF
_VERSION = 20  # 2.0: deflate


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A + B from crc32(A), crc32(B) and len(B) (zlib's `crc32_combine`)."""
    if len2 <= 0:
        return crc1
    operator = [0xEDB88320] + [1 << n for n in range(31)]  # appends one zero bit to a CRC
    for _ in range(3):
        operator = _gf2_square(operator)  # 2, 4, then 8 zero bits: one zero byte
    while len2:  # len(B) zero bytes, by its binary digits
        if len2 & 1:
            crc1 = _gf2_times(operator, crc1)
        len2 >>= 1
        if len2:
            operator = _gf2_square(operator)
    return crc1 ^ crc2


@dataclass
class Deflated:
    """Raw deflate bytes of one piece of an entry, with its plain size and CRC-32. `final` is
    False while more pieces may follow (the stream then ends with a sync flush)."""

    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    crc: int = 0
    compressed: int = 0

    @classmethod
    def of(cls, data: bytes, final: bool, level: int = 6) -> Deflated:
        piece = cls(size=len(data), crc=zlib.crc32(data))
        squeeze = zlib.compressobj(level, zlib.DEFLATED, -15)
        piece.add(squeeze.compress(data) + squeeze.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH))
        return piece

    def add(self, compressed: bytes) -> None:
        if compressed:
            self.parts.append(compressed)
            self.compressed += len(compressed)


def _dos_time(when: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = when
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class ZipWriter:
    """Entries in order (`entry`, each a list of deflated pieces), then `end`: the archive's
    bytes are what both yield."""

    def __init__(self) -> None:
        self._offset = 0
        self._central: list[bytes] = []

    def entry(self, name: str, pieces: list[Deflated], when: tuple[int, int, int, int, int, int]) -> Iterator[bytes]:
        """One entry's local header and data; each piece's parts are released as they go."""
        size = sum(p.size for p in pieces)
        compressed = sum(p.compressed for p in pieces)
        if size > _LIMIT or compressed > _LIMIT or self._offset > _LIMIT:
            raise ValueError(f"the zip entry {name} is past 4 GiB (no ZIP64 here)")
        crc = 0
        for piece in pieces:
            crc = crc32_combine(crc, piece.crc, piece.size)
        raw = name.encode("ascii")
        time, day = _dos_time(when)
        common = struct.pack("<HHHHHIII", _VERSION, 0, zlib.DEFLATED, time, day, crc, compressed, size)
        self._central.append(struct.pack("<IH", 0x02014B50, _VERSION) + common
                             + struct.pack("<HHHHHII", len(raw), 0, 0, 0, 0, 0, self._offset) + raw)
        header = struct.pack("<I", 0x04034B50) + common + struct.pack("<HH", len(raw), 0) + raw
        self._offset += len(header) + compressed
        yield header
        for piece in pieces:
            piece.parts.reverse()
            while piece.parts:
                yield piece.parts.pop()

    def end(self) -> Iterator[bytes]:
        """The central directory and its end record."""
        directory = b"".join(self._central)
        count = len(self._central)
        yield directory + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), self._offset, 0)
