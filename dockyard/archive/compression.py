"""Layer stream (de)compression: gzip, zstd, and the stdlib extras Docker also reads.

Layers are sniffed by magic bytes rather than trusted by media type, as Docker does: registries
and `docker save` tarballs mislabel them often enough. Everything streams: a multi-gigabyte
layer never sits in memory. zstd has no stdlib module, so it is piped through the `zstd`
binary; without it the user gets an error that says what to install. Codec modules are imported
only when a stream needs them.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from typing import BinaryIO

from dockyard import errors

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"

_CHUNK = 1 << 20


def detect(prefix: bytes) -> str:
    """Name the compression of a stream from its first bytes: gzip, zstd, bzip2, xz or none."""
    if prefix.startswith(GZIP_MAGIC):
        return "gzip"
    if prefix.startswith(ZSTD_MAGIC):
        return "zstd"
    if prefix.startswith(BZIP2_MAGIC):
        return "bzip2"
    if prefix.startswith(XZ_MAGIC):
        return "xz"
    return "none"


class _Prefixed:
    """A read-only stream that replays the sniffed magic bytes, so sources need not seek."""

    def __init__(self, prefix: bytes, src: BinaryIO) -> None:
        self._prefix = prefix
        self._src = src

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n is None or n < 0:
                data, self._prefix = self._prefix + self._src.read(), b""
                return data
            data, self._prefix = self._prefix[:n], self._prefix[n:]
            if len(data) < n:
                data += self._src.read(n - len(data)) or b""
            return data
        return self._src.read(n)

    def close(self) -> None:  # the caller owns the source
        pass


def zstd_binary() -> str:
    """Path of the `zstd` binary, or an `Unavailable` that tells the user what to install."""
    path = shutil.which("zstd")
    if path is None:
        raise errors.Unavailable(
            "zstd-compressed layers need the zstd binary, which is not installed",
            hint="install it (Debian/Ubuntu: apt-get install zstd) or use gzip layers",
        )
    return path


class _ZstdReader:
    """Decompress by piping through `zstd -dc`; a thread feeds stdin so any file object works."""

    def __init__(self, src: _Prefixed) -> None:
        self._proc = subprocess.Popen(
            [zstd_binary(), "-d", "-c", "-q"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._feed_error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, args=(src,), daemon=True)
        self._feeder.start()
        self._eof = False

    def _feed(self, src: _Prefixed) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while chunk := src.read(_CHUNK):
                stdin.write(chunk)
        except BrokenPipeError:
            pass  # zstd stopped early (bad data or we closed); its exit status tells the story
        except BaseException as e:  # noqa: BLE001 - surfaced to the reading thread
            self._feed_error = e
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def read(self, n: int = -1) -> bytes:
        assert self._proc.stdout is not None
        data = self._proc.stdout.read(n) if n is not None and n >= 0 else self._proc.stdout.read()
        if not data and n != 0 and not self._eof:
            self._eof = True
            self._finish()
        return data

    def _finish(self) -> None:
        self._feeder.join()
        rc = self._proc.wait()
        stderr = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
        if self._feed_error is not None:
            raise self._feed_error
        if rc != 0:
            raise errors.InvalidArgument(f"zstd could not decompress the layer: {stderr or f'exit {rc}'}")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        for f in (self._proc.stdout, self._proc.stderr):
            if f is not None:
                f.close()
        self._proc.wait()
        self._feeder.join(timeout=10)  # it may sit in a slow src.read(); it is a daemon thread


class _Decompressed:
    """Context manager around a decompressing reader, closing codec state and helper processes."""

    def __init__(self, src: BinaryIO) -> None:
        prefix = b""
        while len(prefix) < 6:
            chunk = src.read(6 - len(prefix))
            if not chunk:
                break
            prefix += chunk
        self.compression = detect(prefix)
        raw = _Prefixed(prefix, src)
        if self.compression == "gzip":
            import gzip

            self.reader = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[arg-type]
        elif self.compression == "zstd":
            self.reader = _ZstdReader(raw)
        elif self.compression == "bzip2":
            import bz2

            self.reader = bz2.BZ2File(raw, mode="rb")  # type: ignore[arg-type]
        elif self.compression == "xz":
            import lzma

            self.reader = lzma.LZMAFile(raw, mode="rb")  # type: ignore[arg-type]
        else:
            self.reader = raw

    def __enter__(self) -> _Decompressed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()


def open_decompressed(src: BinaryIO) -> _Decompressed:
    """Sniff `src` and return a context manager whose `.reader` yields the uncompressed bytes."""
    return _Decompressed(src)


class ZstdWriter:
    """Compress by piping into `zstd`, which writes straight to the destination file descriptor.

    The output is deterministic for a given zstd version and level (single-threaded, no
    file name or time in the frame), so the same tar gives the same blob digest.
    """

    def __init__(self, dst_fd: int, *, level: int = 3) -> None:
        self._proc = subprocess.Popen(
            [zstd_binary(), "-q", "-c", f"-{level}"],
            stdin=subprocess.PIPE,
            stdout=dst_fd,
            stderr=subprocess.PIPE,
        )

    def write(self, data: bytes) -> int:
        assert self._proc.stdin is not None
        self._proc.stdin.write(data)
        return len(data)

    def flush(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.flush()

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        rc = self._proc.wait()
        stderr = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
        if self._proc.stderr is not None:
            self._proc.stderr.close()
        if rc != 0:
            raise errors.Unavailable(f"zstd failed to compress the layer: {stderr or f'exit {rc}'}")

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        if self._proc.stderr is not None:
            self._proc.stderr.close()


def compress_gzip(src: BinaryIO, dst: BinaryIO, *, level: int = 6) -> None:
    """Gzip `src` into `dst` deterministically: header mtime 0 and no file name.

    Level 6 is Go's (and so Docker's) default: much faster than Python's 9 for ~1% size.
    """
    import gzip

    with gzip.GzipFile(filename="", mode="wb", fileobj=dst, mtime=0, compresslevel=level) as gz:
        while chunk := src.read(_CHUNK):
            gz.write(chunk)
