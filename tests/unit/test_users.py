import pytest

from dockyard.engine.users import resolve_user
from dockyard.errors import InvalidArgument

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\nwheel:x:10:root,app\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n"


@pytest.mark.parametrize("spec, uid, gid, groups, home", [
    ("", 0, 0, [0, 10], "/root"),
    ("root", 0, 0, [0, 10], "/root"),
    ("nobody", 65534, 65534, [65534], "/nonexistent"),
    ("app", 1000, 1000, [1000, 10, 50], "/home/app"),
    ("1000", 1000, 1000, [1000, 10, 50], "/home/app"),
    ("1000:1000", 1000, 1000, [1000], "/home/app"),
    ("4242", 4242, 0, [0], "/"),
    ("4242:4343", 4242, 4343, [4343], "/"),
    ("nobody:root", 65534, 0, [0], "/nonexistent"),
    ("app:staff", 1000, 50, [50], "/home/app"),
])
def test_resolve(spec, uid, gid, groups, home):
    u = resolve_user(spec, PASSWD, GROUP)
    assert (u.uid, u.gid, u.additional_gids, u.home) == (uid, gid, groups, home)


def test_unknown_names_are_errors():
    with pytest.raises(InvalidArgument, match="unable to find user ghost"):
        resolve_user("ghost", PASSWD, GROUP)
    with pytest.raises(InvalidArgument, match="unable to find group ghosts"):
        resolve_user("app:ghosts", PASSWD, GROUP)


def test_no_passwd_file():
    assert resolve_user("", None, None).home == "/"
    with pytest.raises(InvalidArgument):
        resolve_user("root", None, None)
