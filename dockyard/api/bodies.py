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
