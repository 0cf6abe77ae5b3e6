"""A minimal rtnetlink client: bridges, veth pairs, addresses, routes.

Why not `ip`: every network setup of `dockyard run` would fork and exec iproute2 five or six
times (creating the pair, moving it, addressing, routes, links up), tens of milliseconds on
the hot path. These are a handful of fixed-format kernel messages, sent on one socket that may
live in another network namespace (`open_in_netns`), with the kernel's errno surfaced as a
SyscallError. Only `_socket` (the C module) is imported: `socket` drags in `enum`.
"""

from __future__ import annotations

import os
import struct

import _socket

from dockyard.errors import SyscallError

AF_NETLINK, NETLINK_ROUTE, AF_INET, AF_INET6 = 16, 0, 2, 10
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 18, 20, 24
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_PID = 1, 3, 10, 18, 19
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
IFA_F_NODAD = 0x02
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253
RTA_GATEWAY, RTA_OIF = 5, 4
IFF_UP = 0x1
NLA_F_NESTED = 0x8000
_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_HDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid


def _attr(kind: int, data: bytes) -> bytes:
    n = 4 + len(data)
    return struct.pack("=HH", n, kind) + data + b"\0" * (-n & 3)


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


def ipv4(addr: str) -> bytes:
    return bytes(int(p) for p in addr.split("."))


def ipv6(addr: str) -> bytes:
    return _socket.inet_pton(_socket.AF_INET6, addr)


def mac_bytes(mac: str) -> bytes:
    return bytes(int(p, 16) for p in mac.split(":"))


class Netlink:
    """One NETLINK_ROUTE socket. Requests are synchronous: send, then read until the ack."""

    def __init__(self) -> None:
        self.sock = _socket.socket(AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, kind: int, flags: int, body: bytes, what: str) -> list[tuple[int, bytes]]:
        """Send one request; return the replies' (type, payload). Raises SyscallError on a NACK."""
        self.seq += 1
        seq = self.seq
        self.sock.send(_HDR.pack(_HDR.size + len(body), kind, flags | NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
        replies = []
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + _HDR.size <= len(data):
                length, mtype, _flags, mseq, _pid = _HDR.unpack_from(data, off)
                payload = data[off + _HDR.size:off + length]
                off += (length + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    err = -struct.unpack_from("=i", payload)[0]
                    if err:
                        raise SyscallError("netlink", err, what)
                    return replies
                if mtype == NLMSG_DONE:
                    return replies
                replies.append((mtype, payload))
            if length == 0:
                return replies

    # ------------------------------------------------------------------ links

    def link_index(self, name: str) -> int | None:
        """The interface's index, or None if it does not exist here."""
        try:
            replies = self.request(RTM_GETLINK, 0, _IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name)),
                                   f"get link {name}")
        except SyscallError as e:
            if e.errno in (19, 2):  # ENODEV, ENOENT
                return None
            raise
        for mtype, payload in replies:
            if mtype == RTM_NEWLINK:
                return _IFINFO.unpack_from(payload)[2]
        return None

    def create_bridge(self, name: str) -> None:
        info = _attr(IFLA_INFO_KIND, b"bridge")
        body = _IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_LINKINFO | NLA_F_NESTED, info)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, f"create bridge {name}")

    def create_veth(self, host_name: str, peer_name: str, peer_pid: int, peer_mac: str | None = None) -> None:
        """A veth pair whose peer is born inside the network namespace of `peer_pid`."""
        peer = _IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(peer_name)) + \
            _attr(IFLA_NET_NS_PID, struct.pack("=I", peer_pid))
        if peer_mac:
            peer += _attr(IFLA_ADDRESS, mac_bytes(peer_mac))
        info = _attr(IFLA_INFO_KIND, b"veth") + _attr(IFLA_INFO_DATA | NLA_F_NESTED, _attr(VETH_INFO_PEER, peer))
        body = _IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(host_name)) + \
            _attr(IFLA_LINKINFO | NLA_F_NESTED, info)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, f"create veth pair {host_name}")

    def set_link(self, index: int, *, up: bool | None = None, master: int | None = None, what: str = "") -> None:
        flags = change = 0
        if up is not None:
            flags, change = (IFF_UP if up else 0), IFF_UP
        body = _IFINFO.pack(0, 0, index, flags, change)
        if master is not None:
            body += _attr(IFLA_MASTER, struct.pack("=I", master))
        self.request(RTM_NEWLINK, 0, body, what or f"set link {index}")

    def delete_link(self, name: str) -> bool:
        """Delete an interface by name; False if it was already gone."""
        try:
            self.request(RTM_DELLINK, 0, _IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name)),
                         f"delete link {name}")
        except SyscallError as e:
            if e.errno in (19, 2):
                return False
            raise
        return True

    # ------------------------------------------------------------------ addresses and routes

    def add_address(self, index: int, addr: str, prefix: int, broadcast: str | None = None) -> None:
        body = struct.pack("=BBBBI", AF_INET, prefix, 0, 0, index) + _attr(IFA_LOCAL, ipv4(addr)) + \
            _attr(IFA_ADDRESS, ipv4(addr))
        if broadcast:
            body += _attr(IFA_BROADCAST, ipv4(broadcast))
        try:
            self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body, f"add address {addr}/{prefix}")
        except SyscallError as e:
            if e.errno != 17:  # EEXIST: already there (a re-created network after a crash)
                raise

    def add_address6(self, index: int, addr: str, prefix: int, *, link_scope: bool = False) -> None:
        """An IPv6 address, without duplicate address detection (the IPAM made it unique on its
        bridge; DAD would leave it unusable for a second or more), as dockerd adds them.
        `link_scope`: a link-local (fe80::/10) address."""
        body = struct.pack("=BBBBI", AF_INET6, prefix, IFA_F_NODAD, RT_SCOPE_LINK if link_scope else RT_SCOPE_UNIVERSE,
                           index) + _attr(IFA_LOCAL, ipv6(addr)) + _attr(IFA_ADDRESS, ipv6(addr))
        try:
            self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body, f"add address {addr}/{prefix}")
        except SyscallError as e:
            if e.errno != 17:
                raise

    def add_default_route6(self, gateway: str, index: int) -> None:
        body = struct.pack("=BBBBBBBBI", AF_INET6, 0, 0, 0, 254, 3, 0, 1, 0) + \
            _attr(RTA_GATEWAY, ipv6(gateway)) + _attr(RTA_OIF, struct.pack("=I", index))
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body, f"add default route via {gateway}")

    def add_default_route(self, gateway: str, index: int) -> None:
        # family, dst_len, src_len, tos, table main, protocol boot, scope universe, type unicast, flags
        body = struct.pack("=BBBBBBBBI", AF_INET, 0, 0, 0, 254, 3, 0, 1, 0) + \
            _attr(RTA_GATEWAY, ipv4(gateway)) + _attr(RTA_OIF, struct.pack("=I", index))
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body, f"add default route via {gateway}")


def open_in_netns(netns_path: str) -> Netlink:
    """A netlink socket that lives in the namespace at `netns_path` (e.g. /proc/PID/ns/net).

    A socket belongs to the namespace it was created in, whatever thread uses it later, so we
    step in, create it, and step back out: two setns calls instead of a fork.
    """
    from dockyard.linux.syscalls import CLONE_NEWNET, setns

    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(target, CLONE_NEWNET, f"network namespace {netns_path}")
        try:
            return Netlink()
        finally:
            setns(own, CLONE_NEWNET, "our own network namespace")
    finally:
        os.close(own)
        os.close(target)
