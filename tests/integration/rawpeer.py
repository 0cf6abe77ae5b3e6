"""A hostile peer for the network tests: hand-made IPv4 frames sent out of an interface.

Run inside a container's (or a test namespace's) network namespace with the host's python:

    nsenter -n -t PID python3 rawpeer.py udp IFNAME GATEWAY DST_IP PORT PAYLOAD
    nsenter -n -t PID python3 rawpeer.py syn IFNAME GATEWAY DST_IP PORT PAYLOAD

It writes whole Ethernet frames on an AF_PACKET socket, so the namespace's own routing (which
would keep 127.0.0.0/8 on its loopback) is bypassed: the frame goes to GATEWAY's MAC (the
bridge) with an IP destination of, say, 127.0.0.1, as an attacker in a container can do with
CAP_NET_RAW, which Docker's default capability set grants. One ordinary datagram to GATEWAY's
discard port first makes both sides learn each other's MAC (ARP), as any real peer would have.

`udp` sends the datagram three times. `syn` sends a TCP SYN and watches the interface for the
SYN-ACK; when one comes it completes the handshake and sends PAYLOAD, so a host service that
answered also sees the data. It prints one JSON line: {"synack": bool, "sport": N}.
Only the stdlib; no third-party packages.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
SIOCGIFHWADDR, SIOCGIFADDR = 0x8927, 0x8915


def _ifreq(sock: socket.socket, ifname: str, request: int) -> bytes:
    return fcntl.ioctl(sock.fileno(), request, struct.pack("256s", ifname.encode()[:15]))


def local_addresses(ifname: str) -> tuple[bytes, bytes]:
    """(MAC, IPv4 address) of `ifname` in this namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        mac = _ifreq(s, ifname, SIOCGIFHWADDR)[18:24]
        ip = _ifreq(s, ifname, SIOCGIFADDR)[20:24]
    return mac, ip


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), os.getpid() & 0xFFFF, 0x4000, 64, proto, 0,
                      src, dst)
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + payload


def udp(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(seg))
    csum = checksum(pseudo + seg) or 0xFFFF
    return ipv4(src, dst, 17, seg[:6] + struct.pack("!H", csum) + seg[8:])


def tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes = b"") -> bytes:
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + data
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    csum = checksum(pseudo + seg)
    return ipv4(src, dst, 6, seg[:16] + struct.pack("!H", csum) + seg[18:])


def gateway_mac(gateway: str) -> bytes:
    """GATEWAY's MAC, from this namespace's ARP table after one datagram to it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"", (gateway, 9))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        with open("/proc/net/arp") as f:
            rows = [line.split() for line in f.read().splitlines()[1:]]
        for row in rows:
            if row[0] == gateway and row[3] != "00:00:00:00:00:00":
                return bytes.fromhex(row[3].replace(":", ""))
        time.sleep(0.05)
    raise SystemExit(f"no ARP answer from {gateway}")


def main(argv: list[str]) -> int:
    mode, ifname, gateway, dst_ip, port, payload = argv
    dport = int(port)
    my_mac, my_ip = local_addresses(ifname)
    dmac = gateway_mac(gateway)
    dip = socket.inet_aton(dst_ip)
    eth = dmac + my_mac + struct.pack("!H", ETH_P_IP)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    s.bind((ifname, ETH_P_IP))
    sport = 40000 + os.getpid() % 20000
    if mode == "udp":
        for _ in range(3):
            s.send(eth + udp(my_ip, dip, sport, dport, payload.encode()))
            time.sleep(0.05)
        print(json.dumps({"sent": 3, "sport": sport}))
        return 0
    if mode != "syn":
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    seq = int.from_bytes(os.urandom(4), "big")
    s.settimeout(0.2)
    synack = False
    deadline = time.monotonic() + 3
    next_syn = 0.0
    while time.monotonic() < deadline and not synack:
        if time.monotonic() >= next_syn:
            s.send(eth + tcp(my_ip, dip, sport, dport, seq, 0, 0x02))  # SYN
            next_syn = time.monotonic() + 1
        try:
            frame = s.recv(65535)
        except socket.timeout:
            continue
        ip = frame[14:]
        if len(ip) < 40 or ip[9] != 6 or ip[12:16] != dip:
            continue
        ihl = (ip[0] & 15) * 4
        t = ip[ihl:]
        tsport, tdport, tseq, tack, _off, flags = struct.unpack("!HHIIBB", t[:14])
        if tsport == dport and tdport == sport and flags & 0x12 == 0x12 and tack == (seq + 1) & 0xFFFFFFFF:
            synack = True
            ack = (tseq + 1) & 0xFFFFFFFF
            s.send(eth + tcp(my_ip, dip, sport, dport, seq + 1, ack, 0x10))  # ACK
            s.send(eth + tcp(my_ip, dip, sport, dport, seq + 1, ack, 0x18, payload.encode()))  # PSH|ACK
    print(json.dumps({"synack": synack, "sport": sport}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
