"""The embedded DNS server of containers on user networks, at 127.0.0.11 like Docker's.

Docker's daemon answers every container's queries itself. Dockyard has no daemon, so each such
container gets a small forked process of its own (`dockyard-dns`), started with the container and
gone with it: it holds a UDP socket bound to 127.0.0.11:53 inside the container's network
namespace and a second socket in the host's namespace for forwarding. Names of containers on the
container's networks (names, aliases, short ids, read from the state database at query time, so
they follow restarts and new containers) are answered directly; other names go to the host's own
resolvers (from the host's namespace, so 127.0.0.53-style local resolvers work too). Single-label
names that are not containers get NXDOMAIN without leaving the machine: a resolver upstream could
only have answered them through search domains, which the client's resolver adds itself.

TCP is served too (a client retries over TCP when a UDP answer comes back truncated): one query
per connection at a time, answered like a UDP one, forwarded over TCP when it is not ours.
"""

from __future__ import annotations

import os
import struct

TTL = 600  # Docker's
_HDR = struct.Struct("!HHHHHH")
QTYPE_A, QTYPE_AAAA, QCLASS_IN = 1, 28, 1
NOERROR, SERVFAIL, NXDOMAIN = 0, 2, 3


def parse_query(data: bytes) -> tuple[int, int, str, int, int, int] | None:
    """(id, flags, lowercased name, qtype, qclass, end of the question) of a one-question query."""
    if len(data) < 12:
        return None
    qid, flags, qd, _an, _ns, _ar = _HDR.unpack_from(data)
    if flags & 0x8000 or qd != 1:
        return None
    off, labels = 12, []
    while True:
        if off >= len(data):
            return None
        n = data[off]
        off += 1
        if n == 0:
            break
        if n & 0xC0 or off + n > len(data):
            return None  # no compression in a question we will answer
        labels.append(data[off:off + n].decode("ascii", "replace").lower())
        off += n
    if off + 4 > len(data):
        return None
    qtype, qclass = struct.unpack_from("!HH", data, off)
    return qid, flags, ".".join(labels), qtype, qclass, off + 4


def answer(query: bytes, end: int, ips: list[str], rcode: int) -> bytes:
    """A response to `query` (its question echoed) with A records for the IPv4 addresses of
    `ips` and AAAA records for the IPv6 ones."""
    import _socket

    qid, flags = struct.unpack_from("!HH", query)
    rd = flags & 0x0100
    out = _HDR.pack(qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1, len(ips), 0, 0) + query[12:end]
    for ip in ips:
        if ":" in ip:
            out += struct.pack("!HHHIH", 0xC00C, QTYPE_AAAA, QCLASS_IN, TTL, 16) + \
                _socket.inet_pton(_socket.AF_INET6, ip)
        else:
            out += struct.pack("!HHHIH", 0xC00C, QTYPE_A, QCLASS_IN, TTL, 4) + bytes(int(p) for p in ip.split("."))
    return out


def upstream_servers(resolv_conf: str = "/etc/resolv.conf") -> list[str]:
    out = []
    try:
        with open(resolv_conf) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver" and ":" not in parts[1]:
                    out.append(parts[1])
    except OSError:
        pass
    return out[:3]


def local_answer(data: bytes, q: tuple, lookup, servers: list[str]) -> bytes | None:
    """The answer we give ourselves: a container's addresses, NXDOMAIN for an unknown single
    label, SERVFAIL when there is nobody to forward to; None: forward it upstream."""
    _qid, _flags, name, qtype, qclass, end = q
    ips = lookup(name) if qclass == QCLASS_IN else None
    if ips is not None:  # a container's name: its A or AAAA records (none of the other kind: NOERROR)
        want = [ip for ip in ips if (":" in ip) == (qtype == QTYPE_AAAA)] if qtype in (QTYPE_A, QTYPE_AAAA) else []
        return answer(data, end, want, NOERROR)
    if "." not in name:
        return answer(data, end, [], NXDOMAIN)
    if not servers:
        return answer(data, end, [], SERVFAIL)
    return None


def _recv_exact(conn, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def _tcp_forward(query: bytes, servers: list[str]) -> bytes | None:
    import _socket

    for server in servers:
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
        try:
            s.settimeout(2.0)
            s.connect((server, 53))
            s.sendall(struct.pack("!H", len(query)) + query)
            n = struct.unpack("!H", _recv_exact(s, 2))[0]
            return _recv_exact(s, n)
        except OSError:
            continue
        finally:
            s.close()
    return None


def serve_tcp_connection(conn, lookup, servers: list[str]) -> None:
    """Queries on one TCP connection (2-byte length prefixes) until the client closes it or idles."""
    conn.settimeout(2.0)
    try:
        while True:
            n = struct.unpack("!H", _recv_exact(conn, 2))[0]
            data = _recv_exact(conn, n)
            q = parse_query(data)
            if q is None:
                return
            out = local_answer(data, q, lookup, servers) or _tcp_forward(data, servers) or \
                answer(data, q[5], [], SERVFAIL)
            conn.sendall(struct.pack("!H", len(out)) + out)
    except OSError:
        return
    finally:
        conn.close()


def serve(sock, upstream, lookup, servers: list[str], stop_fd: int, listener=None) -> None:
    """Answer on `sock` (UDP) and `listener` (TCP, optional) until `stop_fd` (the container
    init's pidfd) becomes readable."""
    import select
    import time

    poller = select.poll()
    for fd in (sock.fileno(), upstream.fileno(), stop_fd) + ((listener.fileno(),) if listener is not None else ()):
        poller.register(fd, select.POLLIN)
    pending: dict[int, tuple] = {}  # upstream id -> (client addr, client id, deadline, query, next server)
    next_id = int.from_bytes(os.urandom(2), "big")
    while True:
        for fd, _ev in poller.poll(500):
            if fd == stop_fd:
                return
            if listener is not None and fd == listener.fileno():
                try:
                    conn_fd, _addr = listener._accept()
                except OSError:
                    continue
                import _socket

                serve_tcp_connection(_socket.socket(fileno=conn_fd), lookup, servers)
                continue
            if fd == sock.fileno():
                try:
                    data, addr = sock.recvfrom(4096)
                except OSError:
                    continue
                q = parse_query(data)
                if q is None:
                    continue
                out = local_answer(data, q, lookup, servers)
                if out is not None:
                    sock.sendto(out, addr)
                else:
                    next_id = (next_id + 1) & 0xFFFF
                    pending[next_id] = (addr, q[0], time.monotonic() + 2.0, data, 1, q[5])
                    try:
                        upstream.sendto(struct.pack("!H", next_id) + data[2:], (servers[0], 53))
                    except OSError:
                        pass
            elif fd == upstream.fileno():
                try:
                    data, src = upstream.recvfrom(65535)
                except OSError:
                    continue
                if len(data) < 12 or src[0] not in servers:
                    continue
                uid = struct.unpack_from("!H", data)[0]
                entry = pending.pop(uid, None)
                if entry is not None:
                    sock.sendto(struct.pack("!H", entry[1]) + data[2:], entry[0])
        now = time.monotonic()
        for uid, (addr, qid, deadline, data, nxt, end) in list(pending.items()):
            if now < deadline:
                continue
            del pending[uid]
            if nxt < len(servers):  # try the next server
                pending[uid] = (addr, qid, now + 2.0, data, nxt + 1, end)
                try:
                    upstream.sendto(struct.pack("!H", uid) + data[2:], (servers[nxt], 53))
                except OSError:
                    pass
            else:
                sock.sendto(answer(data, end, [], SERVFAIL), addr)
