"""Resolving `--user` the way docker does, from the image's /etc/passwd and /etc/group.

`name`, `uid`, `name:group`, `uid:gid` and mixes; a numeric uid need not exist in passwd (then
gid 0 and HOME=/), a name must. Supplementary groups are the user's memberships in /etc/group.
The files are read from the image's layers before the container starts, so errors surface as a
clean 'unable to find user' instead of a half-started container.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class ExecUser:
    __slots__ = ("uid", "gid", "additional_gids", "home", "name")

    def __init__(self, uid: int, gid: int, additional_gids: list[int], home: str, name: str = "") -> None:
        self.uid, self.gid, self.additional_gids, self.home, self.name = uid, gid, additional_gids, home, name


def _parse(text: str | None, nfields: int) -> list[list[str]]:
    rows = []
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) >= nfields:
            rows.append(parts)
    return rows


def resolve_user(spec: str, passwd: str | None, group: str | None, group_add=()) -> ExecUser:
    """Resolve a docker `--user` value against passwd/group file contents (None if absent).
    `group_add` (--group-add): further groups, by name (from `group`) or number, after the user's."""
    spec = spec or ""
    user, _, grp = spec.partition(":")
    users = _parse(passwd, 7)
    groups = _parse(group, 4)
    entry = None
    if user == "":
        user = "0"
    for row in users:
        if row[0] == user or (user.isdigit() and row[2] == user):
            entry = row
            break
    if entry is None:
        if not user.isdigit():
            raise InvalidArgument(f"unable to find user {user}: no matching entries in passwd file")
        uid, gid, home, name = int(user), 0, "/", ""
    else:
        uid, gid, home, name = int(entry[2]), int(entry[3]), entry[5] or "/", entry[0]
    if uid > 0x7FFFFFFF:
        raise InvalidArgument(f"uid {uid} is out of range")
    if grp:
        for row in groups:
            if row[0] == grp or (grp.isdigit() and row[2] == grp):
                gid = int(row[2])
                break
        else:
            if not grp.isdigit():
                raise InvalidArgument(f"unable to find group {grp}: no matching entries in group file")
            gid = int(grp)
    # Docker's observable rule: the primary group, then the groups listing the user as a member
    # (`id` in a docker busybox shows groups=0(root),10(wheel); `-u 1000:1000` shows groups=1000).
    extra: list[int] = [gid]
    if name and not grp:
        for row in groups:
            members = row[3].split(",") if row[3] else []
            if name in members and int(row[2]) not in extra:
                extra.append(int(row[2]))
    for g in group_add:
        gid_added = next((int(row[2]) for row in groups if row[0] == g), None)
        if gid_added is None:
            if not g.isdigit():
                raise InvalidArgument(f"Unable to find group {g}: no matching entries in group file")
            gid_added = int(g)
        if gid_added not in extra:
            extra.append(gid_added)
    return ExecUser(uid, gid, extra, home, name)
