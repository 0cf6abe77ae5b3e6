"""Container logs in Docker's json-file format, rotated by default.

One JSON object per line: {"log": "text\\n", "stream": "stdout"|"stderr", "time": RFC 3339 nano}.
Unlike Docker's default (no limit), files rotate at `max-size` keeping `max-file` files, so a
chatty container cannot fill the disk. Lines longer than 16 KiB are split as Docker splits them.
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os
import time

LINE_MAX = 16 * 1024
DEFAULT_MAX_SIZE = 10 * 1000 * 1000
DEFAULT_MAX_FILE = 3


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def parse_log_opts(opts: dict) -> tuple[int, int]:
    """(max_size bytes, max_file) from docker's --log-opt values."""
    from dockyard.errors import InvalidArgument

    size = DEFAULT_MAX_SIZE
    files = DEFAULT_MAX_FILE
    for k, v in opts.items():
        if k == "max-size":
            size = parse_size(v)
        elif k == "max-file":
            if not v.isdigit() or int(v) < 1:
                raise InvalidArgument(f"invalid value for max-file: {v}")
            files = int(v)
        elif k not in ("mode", "max-buffer-size", "labels", "env", "tag", "compress"):
            raise InvalidArgument(f"unknown log opt '{k}' for json-file log driver")
    return size, files


def parse_size(v: str) -> int:
    """docker's json-file max-size: go-units FromHumanSize (decimal units)."""
    from dockyard.errors import InvalidArgument
    from dockyard.units import SizeError, from_human_size

    try:
        return from_human_size(v)
    except SizeError as e:
        raise InvalidArgument(f"invalid value for max-size: {e}") from None


class JsonFileWriter:
    """Appends log records for one container, rotating `path` → `path.1` … `path.N-1`.

    A full disk never stops it (the monitor must go on draining the container's output and
    recording its exit): a record that does not fit is dropped whole (a torn line is cut off
    again), and the first record written once space returns is preceded by one saying how many
    bytes were lost, as conmon does."""

    def __init__(self, path: str, *, max_size: int = DEFAULT_MAX_SIZE, max_file: int = DEFAULT_MAX_FILE) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max_file
        self._partial = {"stdout": b"", "stderr": b""}
        self.dropped = 0  # bytes of output lost to a full disk since the last record written
        self._fd = -1
        self._size = 0
        self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._size = os.fstat(self._fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        buf = self._partial[stream] + data
        lines = buf.split(b"\n")
        self._partial[stream] = lines.pop()
        for line in lines:
            self._record(stream, line + b"\n")
        while len(self._partial[stream]) >= LINE_MAX:
            chunk, self._partial[stream] = self._partial[stream][:LINE_MAX], self._partial[stream][LINE_MAX:]
            self._record(stream, chunk)

    def flush_partial(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                self._record(stream, rest)
                self._partial[stream] = b""

    def _record(self, stream: str, data: bytes) -> None:
        if self.dropped:
            note = f"dockyard: {self.dropped} bytes of log output were dropped: no space left on device\n"
            if not self._append(self._encode("stderr", note.encode())):
                self.dropped += len(data)
                return
            self.dropped = 0
        if not self._append(self._encode(stream, data)):
            self.dropped += len(data)

    @staticmethod
    def _encode(stream: str, data: bytes) -> bytes:
        return json.dumps({"log": data.decode("utf-8", errors="replace"), "stream": stream,
                           "time": now_rfc3339()}, ensure_ascii=False).encode() + b"\n"

    def _append(self, rec: bytes) -> bool:
        """Write one whole record; False (and nothing written) when the device is full."""
        import errno

        try:
            if self._fd < 0:
                self._open()
            if self._size + len(rec) > self.max_size and self._size > 0:
                self._rotate()
            view = memoryview(rec)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO):
                raise
            if self._fd >= 0:
                try:
                    os.ftruncate(self._fd, self._size)  # no torn line for readers
                except OSError:
                    pass
            return False
        self._size += len(rec)
        return True

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        if self.max_file <= 1:
            os.truncate(self.path, 0)
        else:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
        self._open()

    def close(self) -> None:
        self.flush_partial()
        if self.dropped:  # lost at the very end: say so if there is room now
            note = f"dockyard: {self.dropped} bytes of log output were dropped: no space left on device\n"
            if self._append(self._encode("stderr", note.encode())):
                self.dropped = 0
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class NullLog:
    """The `none` log driver's writer: the output is still read (the container never blocks on
    a full pipe) and reaches attachers, but nothing is kept."""

    def write(self, stream: str, data: bytes) -> None:
        pass

    def flush_partial(self) -> None:
        pass

    def close(self) -> None:
        pass


def container_log(engine, cid: str, log_opts: dict | None, driver: str = "json-file") -> JsonFileWriter | NullLog:
    """The writer of a container's log (the monitor's and a foreground run's alike)."""
    if driver == "none":
        return NullLog()
    max_size, max_file = parse_log_opts(log_opts or {})
    data = engine.container_data_dir(cid)
    os.makedirs(data, exist_ok=True)
    return JsonFileWriter(os.path.join(data, f"{cid}-json.log"), max_size=max_size, max_file=max_file)


def tee_streams(pipes: dict, log: JsonFileWriter) -> None:
    """A foreground run's output: each pipe (fd → (stream name, our fd)) copied to our fd and
    into the log until every pipe ends. A terminal that went away (EPIPE) stops only the copy
    to it: the log keeps everything, as Docker's does."""
    import select

    open_fds = list(pipes)
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [])
        for fd in ready:
            data = os.read(fd, 65536)
            if not data:
                open_fds.remove(fd)
                os.close(fd)
                continue
            stream, out = pipes[fd]
            log.write(stream, data)
            if out is not None:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(out, view):]
                except OSError:
                    pipes[fd] = (stream, None)
    log.flush_partial()


def check_readable(config: dict) -> None:
    """Docker's answer to reading the log of a container whose driver keeps none (`logs`, and
    attach with logs=1): ErrReadLogsNotSupported, a NotImplemented (501). ``config``: the
    container record's stored ContainerConfig."""
    if config.get("log_driver") == "none":
        from dockyard.errors import NotImplemented

        raise NotImplemented("configured logging driver does not support reading")


def log_files(path: str) -> list[str]:
    """Oldest first: path.N-1 … path.1, path."""
    rotated = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        rotated.append(f"{path}.{i}")
        i += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


def read_records(path: str, *, rotated_only: bool = False):
    """Every record, oldest first, as dicts; a torn last line (writer mid-write) is skipped.
    `rotated_only`: the records of the rotated files (path.N-1 … path.1), not of `path` itself."""
    for p in log_files(path):
        if rotated_only and p == path:
            continue
        try:
            f = open(p, "rb")
        except FileNotFoundError:
            continue
        with f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                try:
                    yield json.loads(line)
                except ValueError:
                    continue


def details_prefix(engine, rec) -> str:
    """`logs --details`' prefix (the API's details=1): the log attributes the json-file driver's
    `labels` and `env` options name (the container's labels and env values of those keys), as
    dockerd writes them: sorted, `key=value` URL-query-escaped, comma-separated; then a space
    (also when there are none)."""
    from urllib.parse import quote_plus

    opts = rec.config.get("log_opts") or {}
    attrs: dict[str, str] = {}
    labels = rec.config.get("labels") or {}
    for key in filter(None, (opts.get("labels") or "").split(",")):
        if key in labels:
            attrs[key] = labels[key]
    if opts.get("env"):
        from dockyard.engine.inspect import container_json

        env = dict(e.split("=", 1) for e in container_json(engine, rec)["Config"]["Env"] if "=" in e)
        for key in filter(None, opts["env"].split(",")):
            if key in env:
                attrs[key] = env[key]
    return ",".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(attrs.items())) + " "
