"""A hostile peer for the IPv6 network tests: hand-made IPv6/UDP frames sent out of an interface.

Run inside a container's network namespace with the host's python:

    nsenter -n -t PID python3 rawpeer6.py IFNAME GATEWAY_MAC SRC_IP DST_IP PORT PAYLOAD

Like rawpeer.py (IPv4), it writes whole Ethernet frames on an AF_PACKET socket, so the
namespace's own routing (which keeps ::1 on its loopback) is bypassed: the frame goes to the
bridge's MAC (given: the test reads it on the host) addressed to, say, ::1, as a container with
CAP_NET_RAW can do. Each datagram is sent three times; prints {"sent": 3}. Only the stdlib.
"""

from __future__ import annotations

import fcntl
import json
import socket
import struct
import sys
import time

ETH_P_IPV6 = 0x86DD
SIOCGIFHWADDR = 0x8927


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp6(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    pseudo = src + dst + struct.pack("!I3xB", len(seg), 17)
    csum = checksum(pseudo + seg) or 0xFFFF
    seg = seg[:6] + struct.pack("!H", csum) + seg[8:]
    return struct.pack("!IHBB", 6 << 28, len(seg), 17, 64) + src + dst + seg


def main(argv: list[str]) -> int:
    ifname, gw_mac, src_ip, dst_ip, port, payload = argv
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        my_mac = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR, struct.pack("256s", ifname.encode()[:15]))[18:24]
    eth = bytes.fromhex(gw_mac.replace(":", "")) + my_mac + struct.pack("!H", ETH_P_IPV6)
    frame = eth + udp6(socket.inet_pton(socket.AF_INET6, src_ip), socket.inet_pton(socket.AF_INET6, dst_ip),
                       41000, int(port), payload.encode())
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    s.bind((ifname, ETH_P_IPV6))
    for _ in range(3):
        s.send(frame)
        time.sleep(0.05)
    print(json.dumps({"sent": 3}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
