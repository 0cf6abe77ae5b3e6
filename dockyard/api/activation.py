"""Socket activation (`--host fd://`, as dockerd's): the listening sockets systemd passes
(LISTEN_PID = this process, LISTEN_FDS = how many, from descriptor 3 on; sd_listen_fds(3)).

Each passed socket must be a listening stream socket; a TCP one obeys the service's rule (loopback
only, unless TLS with client certificates is configured), whatever the socket unit says. The
variables are removed so that nothing the service starts takes the sockets for its own."""

from __future__ import annotations

import os
import socket

from dockyard.errors import InvalidArgument, PermissionDenied

FIRST_FD = 3


def passed_sockets() -> list[socket.socket]:
    pid, count = os.environ.pop("LISTEN_PID", ""), os.environ.pop("LISTEN_FDS", "")
    os.environ.pop("LISTEN_FDNAMES", None)
    if not pid or not count:
        raise InvalidArgument("--host fd:// needs sockets passed by systemd (LISTEN_PID and LISTEN_FDS are not set)",
                              hint="start the service through contrib/systemd/dockyard.socket")
    if not pid.isdigit() or int(pid) != os.getpid():
        raise InvalidArgument(f"--host fd://: the passed sockets are for process {pid}, not this one")
    if not count.isdigit() or int(count) < 1:
        raise InvalidArgument(f"--host fd://: LISTEN_FDS={count!r} passes no socket")
    out = []
    for fd in range(FIRST_FD, FIRST_FD + int(count)):
        try:
            sock = socket.socket(fileno=fd)
        except OSError as e:
            raise InvalidArgument(f"--host fd://: descriptor {fd} is not a socket ({e.strerror})") from None
        os.set_inheritable(fd, False)
        if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            raise InvalidArgument(f"--host fd://: descriptor {fd} is not a listening stream socket")
        out.append(sock)
    return out


def is_loopback(sock: socket.socket) -> bool:
    import ipaddress

    if sock.family == socket.AF_UNIX:
        return True
    host = sock.getsockname()[0]
    return ipaddress.ip_address(host).is_loopback


def check_tcp(sock: socket.socket, tls) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(sock) and tls is None:
        raise PermissionDenied(
            f"refusing to serve on the passed socket {sock.getsockname()[0]}:{sock.getsockname()[1]}: the API gives "
            "root on this host to whoever reaches it, so a non-loopback address needs --tlsverify with "
            "--tlscacert, --tlscert and --tlskey")
