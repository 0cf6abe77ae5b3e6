"""-v, --mount, --tmpfs, --volumes-from: docker's parsing rules and error messages; the spec mounts
they become; the volume name rule; ContainerConfig round-trips its mounts."""

import pytest

from dockyard.engine import mounts as M
from dockyard.engine.config import ContainerConfig
from dockyard.engine.specgen import build_spec
from dockyard.engine.users import ExecUser
from dockyard.engine.volumes import check_driver, validate_name
from dockyard.errors import InvalidArgument, NotFound


class FakeEngine:
    root = "/var/lib/dockyard"


# -- -v ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, want", [
    ("/data", dict(type="volume", source="", target="/data", readonly=False, anonymous=True)),
    ("db:/var/lib/db", dict(type="volume", source="db", target="/var/lib/db", anonymous=False, nocopy=False)),
    ("db:/var/lib/db:nocopy", dict(type="volume", source="db", nocopy=True)),
    ("db:/x:ro,z", dict(type="volume", readonly=True, mode="ro,z")),
    ("/host:/ctr", dict(type="bind", source="/host", target="/ctr", readonly=False, create=True, propagation="")),
    ("/host:/ctr:ro", dict(type="bind", readonly=True, mode="ro")),
    ("/host:/ctr:rw,rshared", dict(type="bind", readonly=False, propagation="rshared")),
    ("/host:/ctr/../other/", dict(target="/other")),
])
def test_volume_flag(spec, want):
    m = M.parse_volume(spec)
    assert {k: m[k] for k in want} == want
    assert m["spec"] == spec and m["origin"] == "v"


@pytest.mark.parametrize("spec, message", [
    ("relative/path:/x", 'create relative/path: "relative/path" includes invalid characters for a local volume '
                         'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                         "directory, use absolute path"),
    ("./here:/x", "includes invalid characters"),
    ("a:/x", "volume name is too short"),
    ("/x:rw", "invalid volume specification: '/x:rw'"),
    (":/x", "invalid volume specification: ':/x'"),
    ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
    ("/h:/c:bogus", "invalid mode: bogus"),
    ("/h:/c:ro,rw", "invalid mode: ro,rw"),
    ("/h:rel", "invalid volume specification: '/h:rel': invalid mount config for type \"bind\": invalid mount "
               "path: 'rel' mount path must be absolute"),
    ("/h:/", "destination can't be '/'"),
    ("db:/x:rshared", 'invalid mount config for type "volume": field BindOptions must not be specified'),
    ("/h:/x:nocopy", 'invalid mount config for type "bind": field VolumeOptions must not be specified'),
])
def test_volume_flag_errors(spec, message):
    with pytest.raises(InvalidArgument) as e:
        M.parse_volume(spec)
    assert message in str(e.value)


# -- --mount ------------------------------------------------------------------------------------------------

def test_mount_flag(tmp_path):
    m = M.parse_mount(f"type=bind,source={tmp_path},target=/app,readonly,bind-propagation=rslave")
    assert m == {"type": "bind", "source": str(tmp_path), "target": "/app", "readonly": True, "origin": "mount",
                 "propagation": "rslave"}
    assert "create" not in m  # --mount never makes a missing source
    v = M.parse_mount('src=cache,dst=/c,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs,'
                      'volume-opt=device=tmpfs,"volume-opt=o=size=1m,uid=1"')
    assert v["nocopy"] and v["labels"] == {"a": "b"}
    assert v["options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1"}
    assert M.parse_mount("target=/anon")["anonymous"] is True  # type defaults to volume
    t = M.parse_mount("type=tmpfs,destination=/x,tmpfs-size=1m,tmpfs-mode=1770")
    assert t["tmpfs"] == ["size=1m", "mode=1770"]
    assert M.parse_mount("type=tmpfs,dst=/y,tmpfs-size=1500")["tmpfs"] == ["size=1500"]
    assert M.parse_mount("type=tmpfs,dst=/y,tmpfs-size=2048,ro")["tmpfs"] == ["ro", "size=2k"]


@pytest.mark.parametrize("value, message", [
    ("type=bind,source=/does/not/exist,target=/x",
     'invalid mount config for type "bind": bind source path does not exist: /does/not/exist'),
    ("type=volume,target=/x,foo=bar",
     'invalid argument "type=volume,target=/x,foo=bar" for "--mount" flag: unexpected key \'foo\' in \'foo=bar\''),
    ("type=volume,source=v1", "target is required"),
    ("type=volume,target=/x,bogus", "invalid field 'bogus' must be a key=value pair"),
    ("type=bind,source=/,target=/x,volume-nocopy", "cannot mix 'volume-*' options with mount type 'bind'"),
    ("type=volume,target=/x,bind-propagation=shared", "cannot mix 'bind-*' options with mount type 'volume'"),
    ("type=nfs,target=/x", 'invalid mount config for type "nfs": mount type unknown'),
    ("type=tmpfs,source=x,target=/x", 'invalid mount config for type "tmpfs": field Source must not be specified'),
    ("type=tmpfs,target=/x,tmpfs-size=lots", "invalid value for tmpfs-size: lots"),
    ("type=tmpfs,target=/x,tmpfs-mode=999", "invalid value for tmpfs-mode: 999"),
    ("type=volume,target=/x,readonly", "must not set ReadOnly mode when using anonymous volumes"),
    ("type=volume,target=/x,readonly=maybe", "invalid value for readonly: maybe"),
    ("type=bind,source=/,target=/x,bind-propagation=sideways", "invalid propagation mode: sideways"),
    ("src=bad/name,target=/x", "includes invalid characters"),
    ('type=bind,"source=/,target=/x', 'extraneous or missing " in quoted-field'),
])
def test_mount_flag_errors(value, message):
    with pytest.raises(InvalidArgument) as e:
        M.parse_mount(value)
    assert message in str(e.value)


def test_unknown_volume_driver_is_dockerds_plugin_lookup():
    """dockerd's words and category (NotFound: 404, what docker-py's test_create_volume_invalid_driver
    wants); an anonymous volume's message names a random name, as dockerd's does."""
    with pytest.raises(NotFound, match='create v1: error looking up volume plugin nfsplugin: plugin "nfsplugin" not found'):
        M.parse_mount("src=v1,target=/x,volume-driver=nfsplugin")
    with pytest.raises(NotFound, match=r'^create [0-9a-f]{64}: error looking up volume plugin x: plugin "x" not found'):
        M.parse_mount("target=/x,volume-driver=x")


# -- --tmpfs, --volumes-from, duplicates ---------------------------------------------------------------------

def test_tmpfs_flag_and_option_merging():
    assert M.parse_tmpfs("/run")["tmpfs"] == []
    m = M.parse_tmpfs("/run:exec,size=64m,mode=1777")
    assert m["tmpfs"] == ["exec", "size=64m", "mode=1777"] and not m["readonly"]
    assert M.parse_tmpfs("/ro:ro")["readonly"]
    # docker's MergeTmpfsOptions: the last of a flag group and of a key wins
    assert M.merge_tmpfs_options(list(M.TMPFS_DEFAULTS) + ["exec", "size=1m", "size=2m"]) == \
        ["nosuid", "nodev", "rprivate", "exec", "size=2m"]
    with pytest.raises(InvalidArgument, match=r'Invalid tmpfs option \["bogus"\]'):
        M.parse_tmpfs("/x:bogus")
    with pytest.raises(InvalidArgument, match="mount path must be absolute"):
        M.parse_tmpfs("run")


def test_volumes_from_flag():
    assert M.parse_volumes_from("db")["readonly"] is False
    assert M.parse_volumes_from("db:ro") == {"type": "volumes-from", "source": "db", "target": "", "readonly": True,
                                             "mode": "ro", "origin": "volumes-from"}
    with pytest.raises(InvalidArgument, match="invalid mode: rx"):
        M.parse_volumes_from("db:rx")


@pytest.mark.parametrize("v, mount, tmpfs", [
    (["/a:/x", "b1:/x"], [], []),
    (["/a:/x"], [], ["/x"]),
    (["vol:/x/"], ["type=tmpfs,target=/x"], []),
])
def test_duplicate_mount_points(v, mount, tmpfs):
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /x"):
        M.parse_flags(v, mount, tmpfs)


def test_volume_names_and_driver():
    assert validate_name("my-vol_1.2") == "my-vol_1.2"
    for bad in ("-x", ".x", "a/b", "a:b", "x"):
        with pytest.raises(InvalidArgument):
            validate_name(bad)
    check_driver("v", "local", {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    with pytest.raises(InvalidArgument, match='invalid option: "size2"'):
        check_driver("v", "local", {"size2": "1"})
    with pytest.raises(InvalidArgument, match='missing required option: "device"'):
        check_driver("v", "local", {"type": "tmpfs"})


# -- into the spec -----------------------------------------------------------------------------------------------

def test_oci_mounts_and_spec(tmp_path):
    host = tmp_path / "made-by-v"
    mounts = M.parse_flags([f"{host}:/etc/hosts", "db:/data/sub", "data:/data"], [], ["/run:size=1m"])
    oci = M.oci_mounts(FakeEngine(), mounts)
    assert host.is_dir()  # -v makes a missing host directory, as docker's legacy -v does
    assert [m["destination"] for m in oci] == ["/data", "/run", "/etc/hosts", "/data/sub"]  # parents first
    assert oci[0] == {"destination": "/data", "type": "bind", "source": "/var/lib/dockyard/volumes/data/_data",
                      "options": ["rbind", "rprivate"]}
    assert oci[1] == {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                      "options": ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]}
    cfg = ContainerConfig(image="busybox", cmd=("true",))
    spec = build_spec(cfg, {}, user=ExecUser(0, 0, [0], "/root", "root"), hostname="h",
                      etc_files={"/etc/hosts": "/run/x/hosts", "/etc/hostname": "/run/x/hostname"}, mounts=oci)
    hosts = [m for m in spec["mounts"] if m["destination"] == "/etc/hosts"]
    assert hosts == [oci[2]]  # the user's replaces the default one
    assert any(m["destination"] == "/etc/hostname" for m in spec["mounts"])


def test_readonly_bind_and_volume_in_spec(monkeypatch):
    """A read-only bind or volume is read-only below too ("rro") where the kernel can (5.12)."""
    monkeypatch.setattr(M, "recursive_readonly_supported", lambda: True)
    oci = M.oci_mounts(FakeEngine(), M.parse_flags(["/srv:/srv:ro", "v1:/v:ro"], ["type=tmpfs,dst=/t,ro"]))
    assert [m["options"] for m in oci] == [["rbind", "rprivate", "ro", "rro"], ["rbind", "rprivate", "ro", "rro"],
                                           ["noexec", "nosuid", "nodev", "rprivate", "ro"]]
    monkeypatch.setattr(M, "recursive_readonly_supported", lambda: False)
    oci = M.oci_mounts(FakeEngine(), M.parse_flags(["/srv:/srv:ro"], []))
    assert oci[0]["options"] == ["rbind", "rprivate", "ro"]
    # docker 24's read-only (the top only), a non-recursive bind, and a forced recursive one
    monkeypatch.setattr(M, "recursive_readonly_supported", lambda: True)
    oci = M.oci_mounts(FakeEngine(), M.parse_flags([], ["type=bind,src=/srv,dst=/a,ro,bind-recursive=writable",
                                                        "type=bind,src=/srv,dst=/b,ro,bind-recursive=disabled",
                                                        "type=bind,src=/srv,dst=/c,ro,bind-recursive=readonly"]))
    assert [m["options"] for m in oci] == [["rbind", "rprivate", "ro"], ["bind", "rprivate", "ro"],
                                           ["rbind", "rprivate", "ro", "rro"]]


def test_kernel_release_decides_recursive_readonly(monkeypatch):
    import os
    from collections import namedtuple

    uname = namedtuple("uname", "sysname nodename release version machine")
    for release, want in (("5.11.22", False), ("5.12.0", True), ("6.18.44-fc-v1300", True), ("4.19.0-26-amd64", False),
                          ("weird", False)):
        monkeypatch.setattr(os, "uname", lambda r=release: uname("Linux", "h", r, "", "x86_64"))
        assert M.recursive_readonly_supported() is want, release


def test_inspect_shapes():
    mounts = M.parse_flags(["/srv:/srv:ro", "v1:/v"], ["type=tmpfs,dst=/t"], ["/run"])
    js = M.mounts_json(FakeEngine(), mounts)
    assert js[0] == {"Type": "bind", "Source": "/srv", "Destination": "/srv", "Mode": "ro", "RW": False,
                     "Propagation": "rprivate"}
    assert js[1] == {"Type": "volume", "Name": "v1", "Source": "/var/lib/dockyard/volumes/v1/_data",
                     "Destination": "/v", "Driver": "local", "Mode": "", "RW": True, "Propagation": ""}
    assert [m["Destination"] for m in js] == ["/srv", "/v", "/t"]  # --tmpfs is HostConfig.Tmpfs only
    hc = M.host_config(mounts)
    assert hc["Binds"] == ["/srv:/srv:ro", "v1:/v"] and hc["Tmpfs"] == {"/run": ""}
    assert hc["Mounts"] == [{"Type": "tmpfs", "Source": "", "Target": "/t"}]


def test_config_round_trip_keeps_mounts():
    cfg = ContainerConfig(image="i", mounts=M.parse_flags(["db:/data"]))
    again = ContainerConfig.from_json(cfg.to_json())
    assert again == cfg and isinstance(again.mounts, tuple)
    assert ContainerConfig(image="i").mounts == ()
