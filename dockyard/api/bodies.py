"""Request bodies read as a stream (build contexts, image tars for load and import): a file-like
`read(n)` over Content-Length or chunked transfer coding, so a large body never sits in memory,
and a client that stops half-way is an error, not a short file taken for a whole one."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class BodyStream:
    def __init__(self, rfile, headers) -> None:
        self.rfile = rfile
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        self.left = 0  # bytes left in the current chunk (chunked) or in the body
        self.done = False
        if not self.chunked:
            raw = headers.get("Content-Length") or "0"
            try:
                self.left = int(raw)
            except ValueError:
                raise InvalidArgument(f"invalid Content-Length: {raw!r}") from None
            if self.left < 0:
                raise InvalidArgument(f"invalid Content-Length: {raw!r}")
            self.done = self.left == 0

    def _next_chunk(self) -> None:
        line = self.rfile.readline(1024)
        try:
            size = int(line.split(b";")[0].strip() or b"x", 16)
        except ValueError:
            raise InvalidArgument("malformed chunked request body") from None
        if size == 0:
            while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            self.done = True
        self.left = size

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while not self.done and (n < 0 or len(out) < n):
            if self.left == 0:
                if not self.chunked:
                    self.done = True
                    break
                self._next_chunk()
                continue
            want = self.left if n < 0 else min(self.left, n - len(out))
            data = self.rfile.read(min(want, 1 << 20))
            if not data:
                raise InvalidArgument("the request body ended early (the client went away?)")
            out += data
            self.left -= len(data)
            if self.left == 0 and self.chunked:
                self.rfile.readline(16)  # the CRLF after a chunk
            elif self.left == 0:
                self.done = True
        return bytes(out)

    def drain(self) -> None:
        """Read what is left, so the connection can carry the next request."""
        while self.read(1 << 20):
            pass


class TarTail:
    """The docker CLI's build context tar (Go's archive/tar behind a rewriting wrapper) may end
    without padding its last member to 512 bytes and without the two zero blocks that end an
    archive; Go's reader accepts that, Python's `tarfile` does not. The member headers are
    followed as the bytes pass (each says how much data follows), so once the body has ended the
    missing padding and end blocks are supplied, but a member cut short is still an error."""

    def __init__(self, stream) -> None:
        self.stream, self.tail = stream, None
        self.pos = self.header_at = self.data_end = 0
        self.header = bytearray()

    def _follow(self, data: bytes) -> None:
        i = 0
        while i < len(data):
            at = self.pos + i
            if at < self.header_at:
                i += min(len(data) - i, self.header_at - at)
                continue
            take = data[i:i + 512 - len(self.header)]
            self.header += take
            i += len(take)
            if len(self.header) == 512:
                size = _member_size(bytes(self.header))
                self.data_end = self.header_at + 512 + size
                self.header_at += 512 + -(-size // 512) * 512
                self.header.clear()
        self.pos += len(data)

    def read(self, n: int = -1) -> bytes:
        if self.tail is None:
            data = self.stream.read(n)
            if data or n == 0:
                self._follow(data)
                return data
            if self.header or self.pos < self.data_end:
                raise InvalidArgument("the tar archive ends inside a member (truncated)")
            self.tail = bytes(self.header_at - self.pos + 1024)
        data = self.tail if n < 0 else self.tail[:n]
        self.tail = self.tail[len(data):]
        return data

    def drain(self) -> None:
        self.stream.drain()


def _member_size(header: bytes) -> int:
    """The size field of a tar header (octal, or GNU base-256); 0 when unreadable (tarfile then
    refuses the header itself)."""
    field = header[124:136]
    if field[:1] and field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    try:
        return int(field.strip(b"\0 ") or b"0", 8)
    except ValueError:
        return 0


class _Prefixed:
    def __init__(self, head: bytes, stream) -> None:
        self.head, self.stream = head, stream

    def read(self, n: int = -1) -> bytes:
        if self.head:
            data = self.head if n < 0 else self.head[:n]
            self.head = self.head[len(data):]
            return data
        return self.stream.read(n)


def context_tar(stream) -> TarTail:
    """A build context body as a plain tar stream: gzip (`docker build --compress`) is taken
    off here, so the tail the CLI leaves short is mended on the tar itself."""
    import gzip

    head = stream.read(2)
    inner = _Prefixed(head, stream)
    if head == b"\x1f\x8b":
        inner = gzip.GzipFile(fileobj=inner, mode="rb")
    tail = TarTail(inner)
    tail.drain = stream.drain
    return tail
