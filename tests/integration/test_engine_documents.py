"""The engine's documents and prune (engine/inspect.py, engine/prune.py) through the CLI:
`inspect --size` (SizeRw, SizeRootFs), a bad `--type`, `system prune`'s report."""

from __future__ import annotations

import json

from support import no_traceback

NONE = ("--network", "none")


def test_inspect_size_counts_what_the_container_wrote(dy, busybox, name):
    dy("run", *NONE, "--name", name, busybox, "sh", "-c", "head -c 3000000 /dev/zero > /big")
    plain = json.loads(dy("inspect", name).out)[0]
    assert "SizeRw" not in plain and "SizeRootFs" not in plain  # docker adds them only with --size
    doc = json.loads(dy("inspect", "--size", name).out)[0]
    image = json.loads(dy("inspect", "--type", "image", busybox).out)[0]
    assert 3_000_000 <= doc["SizeRw"] < 3_500_000
    assert doc["SizeRootFs"] == doc["SizeRw"] + image["Size"]
    assert dy("inspect", "-s", "-f", "{{.SizeRw}}", name).out.strip() == str(doc["SizeRw"])
    dy("rm", name)


def test_inspect_refuses_an_unknown_type(dy, busybox):
    p = dy("inspect", "--type", "volume-ish", busybox, check=False)
    no_traceback(p)
    assert p.returncode == 1 and 'unknown type: "volume-ish"' in p.err and p.out == ""  # docker's words


def test_system_prune_reports_what_went(dy, busybox, name):
    cid = dy("create", *NONE, "--name", name, busybox, "true").out.strip()
    kept = dy("create", *NONE, "--label", "keep=1", busybox, "true").out.strip()
    dy("tag", busybox, "scratchy:1")
    dy("network", "create", "--label", "keep=1", f"{name}-net")
    # --filter: label!= spares what has the label, until= what is younger; volumes take no until
    out = dy("system", "prune", "-af", "--filter", "until=1h").out
    assert "Deleted" not in out and len(dy("ps", "-aq").out.split()) == 2 and dy("images", "-q").out
    p = dy("system", "prune", "-f", "--volumes", "--filter", "until=1h", check=False)
    assert p.returncode == 1 and "The \"until\" filter is not supported with \"--volumes\"" in p.err
    p = dy("system", "prune", "-f", "--filter", "dangling=true", check=False)
    assert p.returncode == 1 and "Invalid filter 'dangling'" in p.err
    p = dy("system", "prune", "--filter", "label=keep", input="n\n")
    assert "Items to be pruned will be filtered with:\n  - label=keep\n" in p.out
    out = dy("system", "prune", "-f", "--filter", "label!=keep=1").out
    assert f"Deleted Containers:\n{cid}\n" in out and kept not in out and f"{name}-net" not in out
    assert dy("ps", "-aq", "--no-trunc").out.split() == [kept]
    dy("rm", kept)
    dy("network", "rm", f"{name}-net")
    cid = dy("create", *NONE, "--name", name, busybox, "true").out.strip()
    out = dy("system", "prune", "-f").out
    assert f"Deleted Containers:\n{cid}\n" in out
    assert out.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    assert dy("ps", "-aq").out == ""
    dy("inspect", "--type", "image", "scratchy:1")  # tagged: not dangling, kept without -a
    out = dy("system", "prune", "-af").out
    assert "Deleted Images:\nuntagged: " in out and "deleted: sha256:" in out
    assert dy("images", "-q").out == ""
