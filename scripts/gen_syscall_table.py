#!/usr/bin/env python3
"""Generate dockyard/runtime/syscall_table.py from the kernel's uapi headers.

    python3 scripts/gen_syscall_table.py            # writes dockyard/runtime/syscall_table.py
    python3 scripts/gen_syscall_table.py -o -       # print instead

Sources (Debian/Ubuntu package ``linux-libc-dev``):

* x86_64:  /usr/include/x86_64-linux-gnu/asm/unistd_64.h  (plain ``#define __NR_x n`` lines)
* aarch64: /usr/include/asm-generic/unistd.h, evaluated as arm64's ``asm/unistd.h`` does:
  64-bit longs and the ``__ARCH_WANT_*`` switches arm64 turns on. The header has ``#if``
  blocks, so a tiny preprocessor below evaluates them (defined(), ||, &&, !, ==, !=).

Syscalls newer than the installed headers are appended from ``NEWER`` (numbers from the
kernel's syscall tables) when the header does not have them, so the table is complete even
on a build host with old headers. Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

X86_64_HEADER = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
GENERIC_HEADER = "/usr/include/asm-generic/unistd.h"
OUTPUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "dockyard", "runtime", "syscall_table.py")

# What arch/arm64/include/uapi/asm/unistd.h (and its Kbuild abis: "common,64,renameat,
# rlimit,memfd_secret") switches on before including the generic table.
ARM64_DEFINES = {
    "__BITS_PER_LONG": 64,
    "__ARCH_WANT_RENAMEAT": 1,
    "__ARCH_WANT_NEW_STAT": 1,
    "__ARCH_WANT_SET_GET_RLIMIT": 1,
    "__ARCH_WANT_TIME32_SYSCALLS": 1,
    "__ARCH_WANT_SYS_CLONE3": 1,
    "__ARCH_WANT_MEMFD_SECRET": 1,
}

# Syscalls that share one number on every architecture since Linux 5.1 (the unified
# 424+ range), plus arch-specific late additions. Only used when the header lacks them.
_UNIFIED = {
    "pidfd_send_signal": 424, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_open": 434, "clone3": 435,
    "close_range": 436, "openat2": 437, "pidfd_getfd": 438, "faccessat2": 439,
    "process_madvise": 440, "epoll_pwait2": 441, "mount_setattr": 442, "quotactl_fd": 443,
    "landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446,
    "memfd_secret": 447, "process_mrelease": 448, "futex_waitv": 449,
    "set_mempolicy_home_node": 450, "cachestat": 451, "fchmodat2": 452,
    "map_shadow_stack": 453, "futex_wake": 454, "futex_wait": 455, "futex_requeue": 456,
    "statmount": 457, "listmount": 458, "lsm_get_self_attr": 459, "lsm_set_self_attr": 460,
    "lsm_list_modules": 461, "mseal": 462, "setxattrat": 463, "getxattrat": 464,
    "listxattrat": 465, "removexattrat": 466, "open_tree_attr": 467, "file_getattr": 468,
    "file_setattr": 469,
}
NEWER = {
    "x86_64": {**_UNIFIED, "uretprobe": 335},
    "aarch64": dict(_UNIFIED),
}

# Names in the generic header that are not syscalls.
_NOT_SYSCALLS = {"syscalls", "arch_specific_syscall"}


def parse_plain(path: str) -> dict[str, int]:
    """``#define __NR_name number`` lines (x86's generated unistd_64.h)."""
    table: dict[str, int] = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*#\s*define\s+__NR_(\w+)\s+(\d+)\s*$", line)
            if m:
                table[m.group(1)] = int(m.group(2))
    return table


def _eval_condition(expr: str, macros: dict[str, object]) -> bool:
    expr = re.sub(r"defined\s*\(\s*(\w+)\s*\)", lambda m: "1" if m.group(1) in macros else "0", expr)
    expr = re.sub(r"defined\s+(\w+)", lambda m: "1" if m.group(1) in macros else "0", expr)
    expr = expr.replace("||", " or ").replace("&&", " and ")
    expr = re.sub(r"!(?!=)", " not ", expr)

    def ident(m: re.Match) -> str:
        word = m.group(0)
        if word in ("or", "and", "not"):
            return word
        value = macros.get(word, 0)
        return str(value) if isinstance(value, int) else "0"

    expr = re.sub(r"[A-Za-z_]\w*", ident, expr)
    return bool(eval(expr, {"__builtins__": {}}, {}))  # noqa: S307 - digits and operators only


def parse_generic(path: str, defines: dict[str, int]) -> dict[str, int]:
    """Run the #if/#define logic of asm-generic/unistd.h and collect ``__NR_*`` numbers."""
    macros: dict[str, object] = dict(defines)
    stack: list[tuple[bool, bool]] = []  # (this branch active, some branch already taken)
    active = True
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("#"):
            continue
        m = re.match(r"#\s*(\w+)\s*(.*?)\s*(/\*.*)?$", line)
        if not m:
            continue
        directive, rest = m.group(1), m.group(2)
        if directive in ("if", "ifdef", "ifndef"):
            if directive == "ifdef":
                cond = rest in macros
            elif directive == "ifndef":
                cond = rest not in macros
            else:
                cond = _eval_condition(rest, macros)
            stack.append((active, cond))
            active = active and cond
        elif directive == "elif":
            outer, taken = stack[-1]
            cond = not taken and _eval_condition(rest, macros)
            stack[-1] = (outer, taken or cond)
            active = outer and cond
        elif directive == "else":
            outer, taken = stack[-1]
            stack[-1] = (outer, True)
            active = outer and not taken
        elif directive == "endif":
            active = stack.pop()[0]
        elif not active:
            continue
        elif directive == "define":
            parts = rest.split(None, 1)
            name = parts[0].split("(")[0]
            value = parts[1].strip() if len(parts) > 1 else ""
            if value.isdigit():
                macros[name] = int(value)
            elif value in macros:
                macros[name] = macros[value]
            else:
                macros[name] = value
        elif directive == "undef":
            macros.pop(rest, None)
    return {name[5:]: value for name, value in macros.items()
            if name.startswith("__NR_") and isinstance(value, int) and name[5:] not in _NOT_SYSCALLS}


def with_newer(table: dict[str, int], arch: str) -> dict[str, int]:
    out = dict(table)
    taken = set(out.values())
    for name, nr in NEWER[arch].items():
        if name not in out and nr not in taken:
            out[name] = nr
            taken.add(nr)
    return out


def render(tables: dict[str, dict[str, int]], sources: dict[str, str]) -> str:
    lines = [
        '"""System call numbers by name, per architecture (name → number).',
        "",
        "GENERATED by scripts/gen_syscall_table.py — do not edit; regenerate instead. Sources:",
    ]
    for arch, src in sources.items():
        lines.append(f"{arch}: {src}, plus newer syscalls the header lacked.")
    lines += [
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    for arch, table in tables.items():
        lines.append(f"{arch.upper()}: dict[str, int] = {{")
        entries = [f'"{name}": {nr},' for name, nr in sorted(table.items(), key=lambda kv: (kv[1], kv[0]))]
        row = "   "
        for entry in entries:
            if len(row) + 1 + len(entry) > 99:
                lines.append(row)
                row = "   "
            row += " " + entry
        if row.strip():
            lines.append(row)
        lines += ["}", ""]
    lines += [
        "TABLES: dict[str, dict[str, int]] = {" + ", ".join(f'"{a}": {a.upper()}' for a in tables) + "}",
        "",
        "",
        "def syscall_number(name: str, arch: str) -> int | None:",
        '    """The number of ``name`` on ``arch`` (``os.uname().machine``), None if it has none."""',
        "    table = TABLES.get(arch)",
        "    return None if table is None else table.get(name)",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--x86-64-header", default=X86_64_HEADER)
    ap.add_argument("--generic-header", default=GENERIC_HEADER)
    ap.add_argument("-o", "--output", default=OUTPUT, help="output file, '-' for stdout")
    args = ap.parse_args(argv)
    for path in (args.x86_64_header, args.generic_header):
        if not os.path.exists(path):
            print(f"gen_syscall_table: {path} is missing (apt-get install linux-libc-dev)", file=sys.stderr)
            return 1
    tables = {
        "x86_64": with_newer(parse_plain(args.x86_64_header), "x86_64"),
        "aarch64": with_newer(parse_generic(args.generic_header, ARM64_DEFINES), "aarch64"),
    }
    sources = {"x86_64": args.x86_64_header, "aarch64": args.generic_header + " (arm64 switches)"}
    text = render(tables, sources)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)
        print(f"wrote {args.output}: " + ", ".join(f"{a} {len(t)} syscalls" for a, t in tables.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
