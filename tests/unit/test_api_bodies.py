"""Streamed request bodies (api/bodies.py) and the time parser the lists use: a chunked or
Content-Length body read piecewise, one that ends early refused, and the docker CLI's build
context tar (no end blocks, last member unpadded) mended while a member cut short stays an error."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from dockyard.api.bodies import BodyStream, context_tar
from dockyard.errors import InvalidArgument
from dockyard.units import parse_rfc3339


def _tar(files: dict, *, terminated: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    if terminated:
        return data
    # as the docker CLI sends it: members only, the last one's data not padded to 512 bytes
    end, offset = 0, 0
    while offset + 512 <= len(data) and data[offset:offset + 512].strip(b"\0"):
        size = int(data[offset + 124:offset + 136].strip(b"\0 ") or b"0", 8)
        end = offset + 512 + size
        offset += 512 + -(-size // 512) * 512
    return data[:end]


def _names(stream) -> dict:
    with tarfile.open(fileobj=stream, mode="r|") as t:
        return {m.name: t.extractfile(m).read() if m.isfile() else None for m in t}


def test_chunked_and_length_bodies():
    raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    s = BodyStream(io.BytesIO(raw), {"Transfer-Encoding": "chunked"})
    assert s.read(3) + s.read(100) == b"hello world" and s.read(10) == b""
    s = BodyStream(io.BytesIO(b"abcdefXXXX"), {"Content-Length": "6"})
    assert s.read() == b"abcdef" and s.read() == b""
    with pytest.raises(InvalidArgument, match="ended early"):
        BodyStream(io.BytesIO(b"abc"), {"Content-Length": "6"}).read()
    with pytest.raises(InvalidArgument, match="ended early"):
        BodyStream(io.BytesIO(b"5\r\nab"), {"Transfer-Encoding": "chunked"}).read()
    with pytest.raises(InvalidArgument, match="malformed chunked"):
        BodyStream(io.BytesIO(b"zz\r\n"), {"Transfer-Encoding": "chunked"}).read()
    with pytest.raises(InvalidArgument):
        BodyStream(io.BytesIO(b""), {"Content-Length": "-1"})


@pytest.mark.parametrize("compress", [False, True])
def test_unterminated_context_tar_is_mended(compress):
    files = {"Dockerfile": b"FROM busybox\n", "dir/" + "x" * 120: b"y" * 700, ".dockerignore": b"*.tmp\n"}
    data = _tar(files, terminated=False)
    assert len(data) % 512 != 0
    with pytest.raises(tarfile.ReadError):
        _names(io.BytesIO(data))  # what Python's tarfile alone says
    body = gzip.compress(data) if compress else data
    stream = context_tar(BodyStream(io.BytesIO(body), {"Content-Length": str(len(body))}))
    assert _names(stream) == files
    whole = _tar(files)
    assert _names(context_tar(BodyStream(io.BytesIO(whole), {"Content-Length": str(len(whole))}))) == files


def test_member_cut_short_is_refused():
    data = _tar({"Dockerfile": b"FROM busybox\n" * 10})
    for cut in (100, 512 + 40):
        stream = context_tar(BodyStream(io.BytesIO(data[:cut]), {"Content-Length": str(cut)}))
        with pytest.raises(InvalidArgument, match="truncated"):
            _names(stream)


def test_parse_rfc3339_by_hand():
    assert parse_rfc3339("2026-12-06T23:12:33Z") == 1796598753.0
    assert parse_rfc3339("2026-12-06T23:12:33.25Z") == 1796598753.25
    assert parse_rfc3339("2026-12-06T23:12:33.123456789+00:00") == pytest.approx(1796598753.123456789)
    for bad in ("", "garbage", "2026-13-06T23:12:33Z", "2026-12-06 23:12:33", "0001-01-01T00:00:00Z",
                "2026-12-06T25:12:33Z", "2026-1x-06T23:12:33Z"):
        assert parse_rfc3339(bad) == 0.0, bad
