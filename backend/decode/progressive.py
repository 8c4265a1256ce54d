"""The DC-only part of a progressive JPEG: everything a 1/8-scale decode reads, without the AC scans.

A progressive JPEG stores its coefficients in several scans: first the DC coefficient of every 8 x 8 block
(often in two steps, a first scan and a later one-bit refinement), then bands of AC coefficients. libjpeg's
1/8-scale decode (OpenCV's ``IMREAD_REDUCED_*_8``) turns every block into one pixel from its DC coefficient
alone (subsampled chroma excepted, see :func:`_blocks`), yet it still entropy-decodes every AC scan, which is most of the file and most of the time (about
50 ms for a 12-MP photo on one core).

:func:`dc_scans_only` copies the file with the AC scans replaced by tiny ones that say "every AC coefficient
of every block is zero" (one end-of-band run per 32,767 blocks, with a Huffman table of just those symbols).
Replaced rather than left out: a decoder that never saw the AC coefficients would estimate them from the
neighbouring blocks ("block smoothing") and so change the pixels; told they are zero, the 1/8-scale decode
gives exactly the pixels of the whole file, about ten times faster.

Only the marker structure is read (segment lengths, frame and scan headers, the entropy-coded data's extent);
anything unexpected (restart intervals, a missing height, odd scan headers) returns ``None`` and the caller
decodes the whole file as before.
"""

from __future__ import annotations

__all__ = ["dc_scans_only"]

_SOF_PROGRESSIVE = (0xC2, 0xC6, 0xCA, 0xCE)
_STANDALONE = frozenset((0x01, *range(0xD0, 0xD8)))  # TEM, RST0-7: no length field
_SOI, _EOI, _SOS, _DRI = 0xD8, 0xD9, 0xDA, 0xDD
_MAX_RUN_BITS = 14  # EOB14: runs of up to 2**15 - 1 blocks
#: DHT segment: AC table 0 with the 15 symbols EOB0..EOB14 (RRRR = r, SSSS = 0), each a 4-bit code (r).
_ZERO_AC_TABLE = (
    b"\xff\xc4"
    + (3 + 16 + _MAX_RUN_BITS + 1).to_bytes(2, "big")
    + b"\x10"
    + bytes([0, 0, 0, _MAX_RUN_BITS + 1] + [0] * 12)
    + bytes(r << 4 for r in range(_MAX_RUN_BITS + 1))
)


def _scan_end(data: bytes, pos: int) -> int:
    """Offset of the first marker after entropy-coded data starting at ``pos`` (stuffed FF 00 and RSTn skipped)."""
    n = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= n:
            return -1
        nxt = data[pos + 1]
        if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
            pos += 1 if nxt == 0xFF else 2
            continue
        return pos


def _blocks(sof: bytes) -> dict[int, int] | None:
    """Full-resolution components of a frame header segment: component id -> 8 x 8 blocks in one of its scans.

    Subsampled components (e.g. the chroma of a 4:2:0 JPEG) are left out: libjpeg decodes them at 1/8 scale
    with a 2 x 2 (or larger) inverse DCT instead of upsampling, which reads their first AC coefficients.
    """
    if len(sof) < 10:
        return None
    height, width, count = int.from_bytes(sof[5:7], "big"), int.from_bytes(sof[7:9], "big"), sof[9]
    if not (height and width and count) or len(sof) < 10 + 3 * count:
        return None
    comps = [(sof[10 + 3 * i], sof[11 + 3 * i] >> 4, sof[11 + 3 * i] & 15) for i in range(count)]
    h_max, v_max = max(h for _, h, _ in comps), max(v for _, _, v in comps)
    if not (h_max and v_max):
        return None
    return {ident: -(-width // 8) * -(-height // 8) for ident, h, v in comps if (h, v) == (h_max, v_max)}


def _zero_ac_scan(component: int, blocks: int) -> bytes:
    """A first AC scan (coefficients 1..63, full precision) of one component in which every block is empty."""
    bits: list[str] = []
    left = blocks
    while left:
        r = min(_MAX_RUN_BITS, left.bit_length() - 1)
        run = min(left, (1 << (r + 1)) - 1)
        bits.append(format(r, "04b") + (format(run - (1 << r), f"0{r}b") if r else ""))
        left -= run
    text = "".join(bits)
    text += "1" * (-len(text) % 8)
    raw = int(text, 2).to_bytes(len(text) // 8, "big") if text else b""
    header = b"\xff\xda\x00\x08\x01" + bytes([component, 0x00, 1, 63, 0x00])
    return header + raw.replace(b"\xff", b"\xff\x00")


def dc_scans_only(data: bytes) -> bytes | None:
    """A copy of a progressive JPEG with its AC scans removed, or ``None`` when that does not apply.

    Args:
        data: the whole JPEG file.

    Returns:
        The file with the AC scans of its full-resolution components left out (headers, tables, DC scans and
        the subsampled components' scans kept in order), then one all-zero AC scan for each of those
        components and the end marker; or ``None`` when the file
        is not progressive, has no AC scan, or its marker structure is not what this walk expects (the caller
        then decodes the original bytes).
    """
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != _SOI:
        return None
    out = [data[:2]]
    pos = 2
    progressive = dropped = False
    blocks: dict[int, int] | None = None
    while pos + 1 < n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        if pos + 4 > n:
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        seg_end = pos + 2 + length
        if length < 2 or seg_end > n:
            return None
        if marker in _SOF_PROGRESSIVE:
            progressive = True
            blocks = _blocks(data[pos:seg_end])
        if marker == _DRI and (length != 4 or data[pos + 4 : pos + 6] != b"\x00\x00"):
            return None  # end-of-band runs may not cross restart intervals
        if marker != _SOS:
            out.append(data[pos:seg_end])
            pos = seg_end
            continue
        if not progressive or length < 6:
            return None
        components = data[pos + 4]
        spectral_start_at = pos + 5 + 2 * components
        if spectral_start_at >= seg_end:
            return None
        end = _scan_end(data, seg_end)
        if end < 0:
            return None
        if data[spectral_start_at] == 0 or components != 1 or data[pos + 5] not in (blocks or {}):
            out.append(data[pos:end])
        else:
            dropped = True
        pos = end
    if not (progressive and dropped and blocks):
        return None
    out.append(_ZERO_AC_TABLE)
    out += [_zero_ac_scan(ident, count) for ident, count in blocks.items()]
    out.append(b"\xff\xd9")
    return b"".join(out)
