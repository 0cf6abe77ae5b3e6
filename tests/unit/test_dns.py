"""The embedded DNS server's wire format and loop, over UDP and TCP on 127.0.0.1 (no forwarding)."""

from __future__ import annotations

import os
import socket
import struct
import threading

from dockyard.network import dns


def query(name: str, qtype: int = dns.QTYPE_A, qid: int = 0x1234) -> bytes:
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", qtype, 1)


def records(resp: bytes) -> tuple[int, int, list[str]]:
    """(id, rcode, A addresses) of a response we built (answers use a pointer to the question)."""
    qid, flags, _qd, an, _ns, _ar = struct.unpack_from("!HHHHHH", resp)
    off = 12
    while resp[off]:
        off += resp[off] + 1
    off += 5
    ips = []
    for _ in range(an):
        _ptr, rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHHIH", resp, off)
        off += 12
        ips.append(".".join(str(b) for b in resp[off:off + rdlen]))
        off += rdlen
    return qid, flags & 0xF, ips


def test_parse_and_answer():
    q = query("Web.Example")
    qid, flags, name, qtype, qclass, end = dns.parse_query(q)
    assert (qid, name, qtype, qclass, end) == (0x1234, "web.example", 1, 1, len(q))
    assert records(dns.answer(q, end, ["10.1.2.3", "10.1.2.4"], dns.NOERROR)) == (0x1234, 0, ["10.1.2.3", "10.1.2.4"])
    assert records(dns.answer(q, end, [], dns.NXDOMAIN))[1] == dns.NXDOMAIN
    for bad in (b"", b"\0" * 11, query("x")[:-2], struct.pack("!HHHHHH", 1, 0x8000, 1, 0, 0, 0) + b"\0\0\1\0\1"):
        assert dns.parse_query(bad) is None


def test_upstream_servers_skip_ipv6(tmp_path):
    f = tmp_path / "resolv.conf"
    f.write_text("search example\nnameserver 10.0.0.1\nnameserver ::1\nnameserver 127.0.0.53\n")
    assert dns.upstream_servers(str(f)) == ["10.0.0.1", "127.0.0.53"]


def test_serve_answers_over_udp_and_tcp_and_stops_with_its_fd():
    names = {"db": ["10.5.0.2"], "alias": ["10.5.0.2", "10.6.0.2"]}
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stop_r, stop_w = os.pipe()
    t = threading.Thread(target=dns.serve, args=(udp, upstream, names.get, [], stop_r, tcp), daemon=True)
    t.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.settimeout(5)
            c.sendto(query("db"), udp.getsockname())
            assert records(c.recvfrom(512)[0]) == (0x1234, 0, ["10.5.0.2"])
            c.sendto(query("nothere", qid=7), udp.getsockname())
            assert records(c.recvfrom(512)[0]) == (7, dns.NXDOMAIN, [])
            c.sendto(query("db", qtype=dns.QTYPE_AAAA, qid=8), udp.getsockname())
            assert records(c.recvfrom(512)[0]) == (8, 0, [])  # known name, no IPv6: NOERROR, no records
            c.sendto(query("some.where", qid=9), udp.getsockname())  # not ours and no upstream
            assert records(c.recvfrom(512)[0]) == (9, dns.SERVFAIL, [])
        with socket.create_connection(tcp.getsockname(), timeout=5) as c:
            for qid, name, want in ((1, "alias", ["10.5.0.2", "10.6.0.2"]), (2, "db", ["10.5.0.2"])):
                q = query(name, qid=qid)
                c.sendall(struct.pack("!H", len(q)) + q)
                n = struct.unpack("!H", c.recv(2))[0]
                resp = b""
                while len(resp) < n:
                    resp += c.recv(n - len(resp))
                assert records(resp) == (qid, 0, want)
    finally:
        os.write(stop_w, b"x")
        t.join(5)
        assert not t.is_alive()
        for s in (udp, tcp, upstream):
            s.close()
        os.close(stop_r)
        os.close(stop_w)
