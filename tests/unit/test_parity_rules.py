"""Docker parity rules that need no root: the restart back-off, strict templates, the flag
parser's errors and help, names dockerd refuses, sizes as Docker counts them."""

from __future__ import annotations

import io
import tarfile

import pytest

from dockyard import errors
from dockyard.archive.apply import content_size
from dockyard.cli.flags import BOOL, STR, Flag, FlagError, HelpRequested, UsageError, parse
from dockyard.cli.inspect import template_view
from dockyard.cli.main import _error_code, main
from dockyard.cli.template import GoMap, render, render_table
from dockyard.engine.monitor import next_backoff
from dockyard.fsutil import content_bytes
from dockyard.oci import reference
from dockyard.units import human_size


def test_restart_backoff_starts_at_100ms_and_doubles_to_a_minute():
    waits, delay = [], 0.0
    for _ in range(12):
        delay = next_backoff(delay, ran=0.5)
        waits.append(delay)
    assert waits[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert waits[-1] == 60.0 and max(waits) == 60.0
    assert next_backoff(6.4, ran=10.0) == 0.1  # ran 10 s or more: back to the start


DOC = {"Config": {"Labels": GoMap({"a": "1"}), "Image": "x"}, "State": {"Status": "exited"}}


def test_strict_template_fails_on_a_missing_struct_field_with_gos_column():
    with pytest.raises(errors.InvalidArgument) as e:
        render("{{.Config.Nope}}", DOC, strict=True)
    assert str(e.value) == ('template parsing error: template: :1:9: executing "" at <.Config.Nope>: '
                            'map has no entry for key "Nope"')
    with pytest.raises(errors.InvalidArgument, match=r":1:21: executing \"\" at <\$x.Nope>"):
        render("{{$x := .Config}}{{$x.Nope}}", DOC, strict=True)
    assert render("{{.Config.Labels.b}}|{{.Config.Labels.a}}", DOC, strict=True) == "<no value>|1"
    assert render("{{.Config.Nope}}", DOC) == "<no value>"  # not strict: Go's map behaviour


def test_table_rows_name_their_go_type_for_a_missing_field():
    with pytest.raises(errors.InvalidArgument, match=r"can't evaluate field Nope in type \*formatter.imageContext"):
        render_table("{{.Nope}}", [{"ID": "x"}], row_type="*formatter.imageContext")
    assert render_table("table {{.ID}}", [{"ID": "x"}], row_type="*formatter.imageContext") == "ID\nx\n"


def test_template_view_marks_maps_and_fills_omitted_struct_fields():
    doc = {"Config": {"Labels": {"a": "1"}, "Env": ["A=1"]},
           "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {}}}, "State": {"Status": "x"},
           "NetworkSettings": {"Networks": {"bridge": {"IPAddress": ""}}}}
    v = template_view(doc)
    assert isinstance(v["Config"]["Labels"], GoMap) and isinstance(v["HostConfig"]["LogConfig"]["Config"], GoMap)
    assert not isinstance(v["NetworkSettings"]["Networks"]["bridge"], GoMap)  # a struct inside a map
    assert render("[{{.Config.StopSignal}}] {{.State.Health}} {{.HostConfig.LogConfig.Config.x}}", v,
                  strict=True) == "[] <nil> <no value>"
    assert "StopSignal" not in doc["Config"]  # the JSON document itself is untouched


def test_flag_errors_exit_125_and_argument_counts_1():
    flags = [Flag("-t,--time,--timeout", STR, dest="time"), Flag("--help")]
    assert parse(flags, ["--timeout", "3", "x"]).time == "3"
    for argv in (["--bogus"], ["-z"], ["--timeout"]):
        with pytest.raises(FlagError) as e:
            parse(flags, argv)
        assert _error_code("ps", e.value) == 125
    assert _error_code("run", UsageError('"dockyard run" requires at least 1 argument.')) == 1
    assert _error_code("run", errors.InvalidArgument("x")) == 125  # an engine error of run
    assert _error_code("ps", errors.InvalidArgument("x")) == 1


def test_h_is_help_unless_a_flag_owns_it():
    assert parse([Flag("--help")], ["-h"]).help is True
    assert parse([Flag("-h,--hostname", STR), Flag("--help")], ["-h", "box"]).hostname == "box"
    with pytest.raises(HelpRequested):
        parse([Flag("-q", BOOL)], ["-h"])


def test_help_of_a_command_without_a_help_flag_prints_its_flags(capsys):
    assert main(["image", "inspect", "--help"]) == 0
    assert main(["tag", "-h"]) == 0 and main(["rename", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:  dockyard tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]" in out and "dockyard rename" in out


def test_new_names_refuse_what_dockerd_refuses():
    with pytest.raises(errors.BadReference, match="repository name must be lowercase"):
        reference.parse_new_name("UPPER/x")
    assert reference.parse_new_name("registry.Example.com/x").domain == "registry.Example.com"


def _tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            ti.type = kind
            if kind == tarfile.SYMTYPE:
                ti.linkname = data
                tf.addfile(ti)
            elif kind == tarfile.LNKTYPE:
                ti.linkname = data
                tf.addfile(ti)
            elif kind == tarfile.DIRTYPE:
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_layer_size_counts_files_and_link_targets_not_tar_overhead(tmp_path):
    blob = _tar([("d", tarfile.DIRTYPE, None), ("d/f", tarfile.REGTYPE, b"x" * 1000),
                 ("d/l", tarfile.SYMTYPE, "f"), ("d/h", tarfile.LNKTYPE, "d/f")])
    assert len(blob) > 4000
    assert content_size(io.BytesIO(blob)) == 1001
    import gzip

    assert content_size(io.BytesIO(gzip.compress(blob))) == 1001  # never the compressed size
    (tmp_path / "f").write_bytes(b"x" * 1000)
    (tmp_path / "l").symlink_to("f")
    (tmp_path / "h").hardlink_to(tmp_path / "f")
    (tmp_path / "sub").mkdir()
    assert content_bytes(str(tmp_path)) == 1001  # moby's directory.Size of the same tree


def test_sizes_print_with_dockers_precision():
    assert human_size(1_986_298, 3) == "1.99MB" and human_size(1_986_298) == "1.986MB"
    assert human_size(0, 3) == "0B"
