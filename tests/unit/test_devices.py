"""Device rules: Docker's flag grammar, runc's cgroup v1 emulation, and the cgroup v2 eBPF program,
which is run here by a small interpreter and must answer every request as the emulator does."""

from __future__ import annotations

import pytest

from dockyard.errors import BadSpec
from dockyard.runtime import devfilter as F
from dockyard.runtime import devices as D


def run(prog, kind, major, minor, access) -> bool:
    """The kernel's view of the program (only the opcodes devfilter emits exist)."""
    acc = sum(F.ACCESS_BITS[c] for c in access)
    ctx = {0: (acc << 16) | (F.DEV_CHAR if kind == "c" else F.DEV_BLOCK), 4: major, 8: minor}
    reg = [0] * 11
    pc = 0
    for _ in range(10000):
        code, dst, src, off, imm = prog[pc]
        pc += 1
        u32 = imm & 0xFFFFFFFF
        if code == F.LDX_MEM_W:
            assert src == 1
            reg[dst] = ctx[off]
        elif code == F.ALU_AND_K:
            reg[dst] &= u32
        elif code == F.ALU_RSH_K:
            reg[dst] = (reg[dst] & 0xFFFFFFFF) >> imm
        elif code == F.ALU_MOV_K:
            reg[dst] = u32
        elif code == F.ALU_MOV_X:
            reg[dst] = reg[src] & 0xFFFFFFFF
        elif code == F.JMP32_JNE_K:
            pc += off if reg[dst] & 0xFFFFFFFF != u32 else 0
        elif code == F.JMP32_JNE_X:
            pc += off if reg[dst] & 0xFFFFFFFF != reg[src] & 0xFFFFFFFF else 0
        elif code == F.EXIT:
            return reg[0] == 1
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        assert 0 <= pc < len(prog)
    raise AssertionError("no exit")


REQUESTS = [(k, ma, mi, acc) for k in "bc" for ma, mi in ((1, 3), (1, 5), (1, 7), (1, 11), (5, 0), (5, 1), (5, 2),
                                                        (4, 0), (7, 0), (10, 200), (10, 229), (10, 232), (136, 4),
                                                        (8, 0), (8, 1), (0xFFFFFFFF, 0x80000000))
            for acc in ("r", "w", "m", "rw", "rwm", "rm")]


def test_docker_default_policy():
    emu = D.effective(D.DOCKER_DEFAULT_RULES)
    assert not emu.default_allow
    for dev in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, 0), (136, 77), (10, 200)):
        assert emu.allows("c", *dev, "rwm"), dev
    for kind, dev in (("c", (1, 11)), ("c", (1, 1)), ("c", (10, 229)), ("c", (10, 232)), ("c", (4, 0)),
                      ("b", (7, 0)), ("b", (8, 0))):
        assert not emu.allows(kind, *dev, "r") and not emu.allows(kind, *dev, "w"), dev
        assert emu.allows(kind, *dev, "m")  # mknod of any node, as Docker: opening it is what is denied
    assert emu.v1_writes()[0] == ("devices.deny", "a")
    assert ("devices.allow", "c 136:* rwm") in emu.v1_writes() and ("devices.allow", "b *:* m") in emu.v1_writes()


def test_privileged_allows_all():
    emu = D.effective(D.PRIVILEGED_RULES)
    assert emu.default_allow and not emu.exceptions
    assert emu.v1_writes() == [("devices.allow", "a")]
    assert all(emu.allows(*r) for r in REQUESTS)


def test_emulator_v1_semantics():
    emu = D.Emulator()
    emu.apply({"allow": True, "type": "b", "major": 7, "access": "r"})
    emu.apply({"allow": True, "type": "b", "major": 7, "access": "w"})
    assert emu.exceptions == {("b", 7, -1): "rw"}
    emu.apply({"allow": False, "type": "b", "major": 7, "access": "w"})
    assert emu.exceptions == {("b", 7, -1): "r"}
    # removing a specific device from a wildcard allow is what cgroup v1 silently ignores: refused
    with pytest.raises(BadSpec, match="wildcard"):
        emu.apply({"allow": False, "type": "b", "major": 7, "minor": 0, "access": "r"})
    emu.apply({"allow": True, "access": "rwm"})
    assert emu.default_allow and emu.exceptions == {}
    emu.apply({"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
    assert not emu.allows("c", 10, 229, "r") and emu.allows("c", 10, 228, "rw")
    assert emu.v1_writes() == [("devices.allow", "a"), ("devices.deny", "c 10:229 rwm")]


@pytest.mark.parametrize("rules", [
    D.DOCKER_DEFAULT_RULES,
    D.PRIVILEGED_RULES,
    D.DOCKER_DEFAULT_RULES + (D.parse_cgroup_rule("b 7:* rw"), D.parse_cgroup_rule("c 10:229 r")),
    ({"allow": True, "access": "rwm"}, {"allow": False, "type": "b", "major": 8, "access": "w"},
     {"allow": False, "type": "c", "major": 4294967295, "minor": 2147483648, "access": "rwm"}),
    ({"allow": False, "access": "rwm"}, D.parse_cgroup_rule("c *:3 r"), D.parse_cgroup_rule("b 8:1 m")),
])
def test_bpf_program_answers_as_the_emulator(rules):
    emu = D.effective(rules)
    prog = F.instructions(emu)
    assert len(F.encode(prog)) == 8 * len(prog)
    for req in REQUESTS:
        assert run(prog, *req) == emu.allows(*req), req


def test_encoding():
    # r2 = *(u32 *)(r1 + 0): code 0x61, dst 2 in the low nibble, src 1 in the high one
    assert F.encode([(F.LDX_MEM_W, 2, 1, 0, 0)]) == bytes([0x61, 0x12, 0, 0, 0, 0, 0, 0])
    assert F.encode([(F.JMP32_JNE_K, 4, 0, 3, -1)]) == bytes([0x56, 0x04, 3, 0, 0xFF, 0xFF, 0xFF, 0xFF])


@pytest.mark.parametrize("text,want", [
    ("c 1:3 rwm", {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}),
    ("b *:* r", {"allow": True, "type": "b", "major": -1, "minor": -1, "access": "r"}),
    ("a 7:* mw", {"allow": True, "type": "a", "major": 7, "minor": -1, "access": "mw"}),
])
def test_parse_cgroup_rule(text, want):
    assert D.parse_cgroup_rule(text) == want


@pytest.mark.parametrize("text", ["", "c 1:3", "c 1:3 rwx", "x 1:3 r", "c 1 r", "c 1:3  r", "c -1:3 r",
                                  "c 1:3 rwmr", "c 99999999999:1 r", "c ١:3 r", "c 1:3 rwm extra"])
def test_bad_cgroup_rules(text):
    with pytest.raises(BadSpec, match="invalid device cgroup rule"):
        D.parse_cgroup_rule(text)


@pytest.mark.parametrize("value,want", [
    ("/dev/fuse", ("/dev/fuse", "/dev/fuse", "rwm")),
    ("/dev/fuse:r", ("/dev/fuse", "/dev/fuse", "r")),
    ("/dev/fuse:/dev/f", ("/dev/fuse", "/dev/f", "rwm")),
    ("/dev/fuse:/dev/f:rw", ("/dev/fuse", "/dev/f", "rw")),
])
def test_parse_device_flag(value, want):
    assert D.parse_device_flag(value) == want


@pytest.mark.parametrize("value", ["", "dev/fuse", "/dev/fuse:/x:rwq", "/dev/fuse:x", "/a:/b:r:w", ":/x"])
def test_bad_device_flags(value):
    with pytest.raises(BadSpec):
        D.parse_device_flag(value)


def test_devices_from_path(tmp_path):
    devs, rules = D.devices_from_path("/dev/null", "/dev/mynull", "r")
    assert devs[0]["path"] == "/dev/mynull" and (devs[0]["major"], devs[0]["minor"]) == (1, 3)
    assert rules == [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"}]
    with pytest.raises(BadSpec, match="not a device node"):
        D.devices_from_path("/etc/hostname", "/x", "r")
    with pytest.raises(BadSpec, match="no device nodes"):
        D.devices_from_path(str(tmp_path), "/x", "rwm")
    with pytest.raises(BadSpec, match="No such file"):
        D.devices_from_path(str(tmp_path / "missing"), "/x", "r")


def test_normalize_refuses_junk():
    for bad in ({"type": "x"}, {"type": "c", "access": "rwx"}, {"type": "c", "major": "1"}, {"type": "b", "minor": -2},
                {"type": "c", "major": True}, {"type": "c", "minor": 1 << 32}, "c 1:3 rwm"):
        with pytest.raises(BadSpec):
            D.normalize(bad)

