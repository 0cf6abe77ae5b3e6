"""The README's first steps, as a user types them."""


def test_bootstrap_run_and_clean_up(dy, busybox):
    out = dy("images").out
    assert out.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert "busybox" in out and "latest" in out
    p = dy("run", "--rm", "busybox", "sh", "-c", "echo $((6*7))")
    assert p.out == "42\n"
    assert dy("ps", "-aq").out == ""
