"""`dockyard system service`: serve the Docker Engine API on unix sockets and loopback TCP.

    dockyard system service [--host unix:///run/dockyard/docker.sock] [--host tcp://127.0.0.1:2375]
                            [--timeout 0] [--tlsverify --tlscacert CA --tlscert CERT --tlskey KEY]
    dockyard system service --host fd://      (the sockets systemd passes: contrib/systemd/)

A unix socket is made 0660 root:dockyard (the group is created when missing), like dockerd's
docker group. TCP without client-certificate TLS is refused anywhere but loopback: whoever can
reach the API is root on the host. `--timeout N` ends the service after N idle seconds (0: never).
Containers keep running when the service ends; their monitors own them, not the service.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time

from dockyard.errors import InvalidArgument, PermissionDenied

DEFAULT_HOST = "unix:///run/dockyard/docker.sock"
ACTIVATION = ("fd://", "fd://*")
GROUP = "dockyard"
USAGE = """Usage:  dockyard system service [OPTIONS]

Serve the Docker Engine API

Options:
  -H, --host list        Socket to listen on: unix:///path or tcp://127.0.0.1:PORT, or fd://
                         for the sockets systemd passes (default unix:///run/dockyard/docker.sock)
  -t, --timeout int      Seconds of inactivity before the service ends (0: never) (default 0)
      --tlsverify        Require TLS with a client certificate signed by --tlscacert
      --tlscacert string CA that client certificates must be signed by
      --tlscert string   Server certificate
      --tlskey string    Server key
  -D, --debug            Log every request to stderr
      --help             Print usage
"""


def parse_args(argv: list[str]) -> dict:
    opts = {"host": [], "timeout": 0, "tlsverify": False, "tlscacert": "", "tlscert": "", "tlskey": "",
            "debug": False, "help": False}
    names = {"-H": "host", "--host": "host", "-t": "timeout", "--timeout": "timeout", "--time": "timeout",
             "--tlscacert": "tlscacert", "--tlscert": "tlscert", "--tlskey": "tlskey"}
    flags = {"--tlsverify": "tlsverify", "-D": "debug", "--debug": "debug", "--help": "help", "-h": "help"}
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        name, eq, val = a.partition("=")
        if name in flags and (not eq or val in ("true", "false")):
            opts[flags[name]] = val != "false"
        elif name in names:
            if not eq:
                if i >= len(argv):
                    raise InvalidArgument(f"flag needs an argument: {name}")
                val = argv[i]
                i += 1
            key = names[name]
            if key == "host":
                opts["host"].append(val)
            elif key == "timeout":
                if not val.isdigit():
                    raise InvalidArgument(f"invalid --timeout {val!r}: a whole number of seconds (0: never)")
                opts["timeout"] = int(val)
            else:
                opts[key] = val
        else:
            raise InvalidArgument(f"unknown flag: {a}" if a.startswith("-") else f"unexpected argument: {a}",
                                  hint="See 'dockyard system service --help'.")
    return opts


def parse_host(value: str) -> tuple[str, object]:
    """("unix", path) or ("tcp", (host, port, family)); a clear error for anything else."""
    import ipaddress

    if value.startswith("unix://"):
        path = value[len("unix://"):]
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid --host {value!r}: a unix socket needs an absolute path")
        return "unix", path
    if value.startswith("tcp://"):
        rest = value[len("tcp://"):].rstrip("/")
        host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidArgument(f"invalid --host {value!r}: expected tcp://ADDRESS:PORT")
        host = host.strip("[]") or "127.0.0.1"
        if host == "localhost":
            host = "127.0.0.1"
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise InvalidArgument(f"invalid --host {value!r}: {host!r} is not an IP address") from None
        return "tcp", (str(ip), int(port), socket.AF_INET6 if ip.version == 6 else socket.AF_INET, ip.is_loopback)
    raise InvalidArgument(f"invalid --host {value!r}: use unix:///path or tcp://ADDRESS:PORT")


def _tls_context(opts):
    import ssl

    missing = [f"--{k}" for k in ("tlscacert", "tlscert", "tlskey") if not opts[k]]
    if missing:
        raise InvalidArgument(f"--tlsverify needs {', '.join(missing)}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(opts["tlscert"], opts["tlskey"])
        ctx.load_verify_locations(opts["tlscacert"])
    except (OSError, ssl.SSLError) as e:
        raise InvalidArgument(f"cannot load the TLS files: {e}") from None
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def dockyard_gid() -> int:
    """The dockyard group's id, creating it (a system group) when missing."""
    import grp
    import subprocess

    try:
        return grp.getgrnam(GROUP).gr_gid
    except KeyError:
        pass
    p = subprocess.run(["groupadd", "--system", GROUP], capture_output=True, text=True)
    try:
        return grp.getgrnam(GROUP).gr_gid
    except KeyError:
        raise PermissionDenied(f"cannot create the {GROUP!r} group: {p.stderr.strip() or 'groupadd failed'}") from None


def _unix_socket(path: str, server_cls, service):
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            raise InvalidArgument(f"cannot listen on {path}: it exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(path)
            raise InvalidArgument(f"cannot listen on {path}: another service is listening there")
        except OSError:
            os.unlink(path)  # a stale socket of a service that is gone
        finally:
            probe.close()
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    # bound and listening under a temporary name, then renamed into place: a client that sees
    # the path can connect (no ECONNREFUSED between bind and listen)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    srv = server_cls(tmp, service)
    old = os.umask(0o177)  # never reachable by others, not even between bind and chmod
    try:
        srv.server_bind()
    finally:
        os.umask(old)
    try:
        os.chown(tmp, 0, dockyard_gid())
        os.chmod(tmp, 0o660)
        srv.server_activate()
        os.rename(tmp, path)
    except BaseException:
        srv.server_close()
        os.unlink(tmp)
        raise
    srv.server_address = path
    return srv


def _passed_servers(service, passed: list, tls) -> list:
    """Servers over the listening sockets systemd passed (api/activation.py)."""
    from dockyard.api.activation import check_tcp
    from dockyard.api.server import TCPServer, UnixServer

    servers = []
    for sock in passed:
        check_tcp(sock, tls)
        if sock.family == socket.AF_UNIX:
            srv = UnixServer(sock.getsockname(), service)
        else:
            srv = TCPServer(sock.getsockname()[:2], service, sock.family, tls)
        srv.socket.close()
        srv.socket = sock
        srv.server_address = sock.getsockname()
        servers.append(srv)
    return servers


class Service:
    """The running service: its servers, its idle clock, and a fresh engine per request."""

    def __init__(self, root: str | None, runroot: str | None, *, debug: bool = False) -> None:
        self.root, self.runroot, self.debug = root, runroot, debug
        self.servers: list = []
        self.sockets: list[str] = []
        self.active = 0
        self.last = time.monotonic()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.local = threading.local()
        from dockyard.api.execs import Registry

        self.execs = Registry()

    def engine(self):
        """This thread's engine: a worker thread keeps it (and its SQLite connection) from one
        request to the next (server.Workers)."""
        engine = getattr(self.local, "engine", None)
        if engine is None:
            from dockyard.engine.engine import Engine

            engine = self.local.engine = Engine(self.root, self.runroot)
        return engine

    def release(self, engine) -> None:
        """After a request: the engine stays with its thread (every transaction is a `with`
        block, so none is left open across requests)."""

    def thread_done(self) -> None:
        engine = getattr(self.local, "engine", None)
        if engine is not None:
            engine.db.close()
            self.local.engine = None

    def busy(self, delta: int) -> None:
        with self.lock:
            self.active += delta
            self.last = time.monotonic()

    def listen(self, hosts: list[str], tls, passed: list | None = None) -> None:
        from dockyard.api.server import TCPServer, UnixServer

        for value in hosts:
            if value in ACTIVATION:  # systemd socket activation, as dockerd's -H fd://
                self.servers += _passed_servers(self, passed or [], tls)
                continue
            kind, where = parse_host(value)
            if kind == "unix":
                self.servers.append(_unix_socket(where, UnixServer, self))
                self.sockets.append(where)
                continue
            host, port, family, loopback = where
            if not loopback and tls is None:
                raise PermissionDenied(
                    f"refusing to listen on {value}: the API gives root on this host to whoever reaches it, so "
                    "a non-loopback address needs --tlsverify with --tlscacert, --tlscert and --tlskey")
            srv = TCPServer((host, port), self, family, tls)
            try:
                srv.server_bind()
                srv.server_activate()
            except OSError as e:
                srv.server_close()
                raise InvalidArgument(f"cannot listen on {value}: {e.strerror}") from None
            self.servers.append(srv)

    def serve(self, timeout: int) -> None:
        for srv in self.servers:
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        while not self.done.wait(0.5):
            if timeout and self.active == 0 and time.monotonic() - self.last > timeout:
                break

    def close(self) -> None:
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()
        for path in self.sockets:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def cmd_service(ctx, argv: list[str]) -> int:
    opts = parse_args(argv)
    if opts["help"]:
        sys.stdout.write(USAGE)
        return 0
    tls = _tls_context(opts) if opts["tlsverify"] else None
    if tls is None and any(opts[k] for k in ("tlscacert", "tlscert", "tlskey")):
        raise InvalidArgument("--tlscacert, --tlscert and --tlskey need --tlsverify (clients must be verified)")
    if os.geteuid() != 0:
        raise PermissionDenied("dockyard system service must run as root")
    passed = None
    if any(h in ACTIVATION for h in opts["host"]):  # taken (and the variables dropped) before any fork
        from dockyard.api.activation import passed_sockets

        passed = passed_sockets()
    from dockyard.api import isolated
    from dockyard.api.zygote import Zygote

    zygote = Zygote()
    zygote.start()  # now: one thread, no store open
    isolated.ZYGOTE = zygote
    try:
        return _serve(ctx, opts, tls, passed)
    finally:
        zygote.stop()


def _serve(ctx, opts: dict, tls, passed) -> int:
    ctx.engine  # noqa: B018 - opens the store and repairs what killed commands left, once
    service = Service(ctx.root, ctx.runroot, debug=opts["debug"])
    signal.signal(signal.SIGTERM, lambda *_: service.done.set())
    signal.signal(signal.SIGINT, lambda *_: service.done.set())
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        service.listen(opts["host"] or [DEFAULT_HOST], tls, passed)
        for value in opts["host"] or [DEFAULT_HOST]:
            sys.stderr.write(f"dockyard: API listening on {value}\n")
        sys.stderr.flush()
        service.serve(opts["timeout"])
    finally:
        service.close()
    return 0
