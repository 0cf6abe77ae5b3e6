"""Go text/template as docker's --format uses it.

Expected outputs are what Go's text/template (with docker/cli's template functions) prints for
the same data; where a dict plays a Go struct the struct's typed output is the reference, and
missing keys follow Go's map behaviour (<no value>).
"""

from __future__ import annotations

import pytest

from dockyard import errors
from dockyard.cli.template import go_json, go_str, render, render_table, split_table, tabwrite

C = {
    "Id": "4f1c0ffee",
    "Name": "/web",
    "State": {"Status": "running", "Running": True, "Paused": False, "Pid": 4242, "ExitCode": 0,
              "Health": None},
    "Config": {
        "Env": ["PATH=/usr/bin", "A=1"],
        "Cmd": ["sh", "-c", "echo hi"],
        "Labels": {"com.example.b": "2", "com.example.a": "1"},
        "Entrypoint": None,
        "Tty": False,
    },
    "Mounts": [{"Source": "/srv/a", "Destination": "/a", "RW": True},
               {"Source": "/srv/b", "Destination": "/b", "RW": False}],
    "NetworkSettings": {
        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None},
        "Networks": {"bridge": {"IPAddress": "172.17.0.2"}},
    },
    "Size": 1234567,
    "Ratio": 0.25,
    "Empty": [],
    "Html": "<a&b>",
}

CASES = [
    # fields, and values printed as Go's fmt prints them
    ("{{.Name}}", "/web"),
    ("{{.State.Status}}", "running"),
    ("{{.State.Running}} {{.State.Paused}}", "true false"),
    ("{{.State.Pid}}", "4242"),
    ("{{.Config.Env}}", "[PATH=/usr/bin A=1]"),
    ("{{.Config.Labels}}", "map[com.example.a:1 com.example.b:2]"),
    ("{{.State.Health}}", "<nil>"),
    ("{{.Empty}}", "[]"),
    ("{{.Mounts}}", "[map[Destination:/a RW:true Source:/srv/a] map[Destination:/b RW:false Source:/srv/b]]"),
    ("{{.NetworkSettings.Ports}}", "map[443/tcp:<nil> 80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]"),
    ("{{.Ratio}} {{.Size}}", "0.25 1234567"),
    ("{{.}}", None),  # checked separately: a whole map
    # missing keys and fields of nil
    ("{{.Nope}}", "<no value>"),
    ("{{.State.Nope}}", "<no value>"),
    ("{{.State.Health.Status}}", "<no value>"),
    ("{{.Nope.Deeper.Still}}", "<no value>"),
    # json: compact, Go's spelling, no HTML escaping (docker sets SetEscapeHTML(false))
    ("{{json .State}}", '{"Status":"running","Running":true,"Paused":false,"Pid":4242,"ExitCode":0,"Health":null}'),
    ("{{json .Config.Env}}", '["PATH=/usr/bin","A=1"]'),
    ("{{json .Html}}", '"<a&b>"'),
    ("{{json .Nope}}", "null"),
    ("{{json .Ratio}}", "0.25"),
    ("{{.Config.Labels | json}}", '{"com.example.b":"2","com.example.a":"1"}'),
    ("{{json .Empty}}", "[]"),
    # docker's functions
    ('{{join .Config.Cmd " "}}', "sh -c echo hi"),
    ('{{join .Config.Entrypoint ","}}', ""),
    ('{{split "a:b:c" ":"}}', "[a b c]"),
    ('{{index (split "nginx:1.25" ":") 1}}', "1.25"),
    ("{{upper .State.Status}} {{lower \"ABC\"}}", "RUNNING abc"),
    ('{{title "hello wide-world"}}', "Hello Wide-World"),
    ('{{truncate .Id 4}}|{{truncate "ab" 4}}', "4f1c|ab"),
    ('[{{pad .Name 1 2}}][{{pad "" 1 2}}]', "[ /web  ][]"),
    # Go builtins
    ("{{len .Mounts}} {{len .Config.Labels}} {{len .Name}}", "2 2 4"),
    ('{{index .Config.Labels "com.example.a"}}', "1"),
    ('{{index .Config.Labels "missing"}}', ""),
    ("{{index .Config.Cmd 2}}", "echo hi"),
    ('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', "8080"),
    ('{{(index .NetworkSettings.Networks "bridge").IPAddress}}', "172.17.0.2"),
    ("{{slice .Config.Cmd 1}}", "[-c echo hi]"),
    ("{{slice .Id 0 3}}", "4f1"),
    ("{{print 1 2 \"a\" \"b\" 3}}", "1 2ab3"),
    ("{{println .Name .State.Pid}}", "/web 4242\n"),
    ('{{printf "%s has pid %d" .Name .State.Pid}}', "/web has pid 4242"),
    ('{{printf "%v|%q|%t|%x|%X|%o" .Config.Env .Name true 255 "hi" 8}}', '[PATH=/usr/bin A=1]|"/web"|true|ff|6869|10'),
    ('{{printf "%-6s|%6s|%05d|%.2f|%e|%5.1f" "ab" "cd" 42 3.14159 1000.0 2.25}}',
     "ab    |    cd|00042|3.14|1.000000e+03|  2.2"),
    ('{{printf "%d %s" "x"}}', "%!d(string=x) %!s(MISSING)"),
    ('{{printf "%d" 1 2}}', "1%!(EXTRA int=2)"),
    ('{{printf "%s" .Nope}}', "%!s(<nil>)"),
    ('{{printf "100%%"}}', "100%"),
    ('{{.Name | printf "%s!"}}', "/web!"),
    ('{{html "<a href=\'x\'>&</a>"}}', "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"),
    ('{{urlquery "a b&c"}}', "a+b%26c"),
    # conditionals
    ('{{if eq .State.Status "running"}}up{{else}}down{{end}}', "up"),
    ('{{if ne .State.Status "running"}}up{{else}}down{{end}}', "down"),
    ('{{if eq .State.Status "exited" "running"}}one of{{end}}', "one of"),
    ("{{if eq .State.ExitCode 0}}ok{{end}}", "ok"),
    ("{{if .State.Health}}health{{else if .State.Running}}running{{else}}other{{end}}", "running"),
    ("{{if and .State.Running (not .State.Paused)}}live{{end}}", "live"),
    ('{{if or .State.Paused .Config.Tty}}x{{else}}neither{{end}}', "neither"),
    ('{{and 1 "" 2}}|{{and 1 2}}|{{or 0 "" "z"}}|{{or 0 ""}}', "|2|z|"),
    ("{{if .Empty}}full{{else}}empty{{end}} {{if .Nope}}y{{else}}n{{end}}", "empty n"),
    ("{{if lt .State.Pid 5000}}low{{end}}{{if ge .Size 1234567}} big{{end}}", "low big"),
    ('{{if gt "b" "a"}}yes{{end}}', "yes"),
    # with
    ("{{with .State}}{{.Status}}/{{.Pid}}{{end}}", "running/4242"),
    ("{{with .State.Health}}{{.Status}}{{else}}no healthcheck{{end}}", "no healthcheck"),
    ("{{with $s := .State.Status}}{{$s}}{{end}}", "running"),
    # range
    ("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "/srv/a:/a /srv/b:/b "),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}", "com.example.a=1 com.example.b=2 "),
    ("{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}};{{end}}", "0:sh;1:-c;2:echo hi;"),
    ("{{range $e := .Config.Env}}[{{$e}}]{{end}}", "[PATH=/usr/bin][A=1]"),
    ("{{range .Empty}}x{{else}}none{{end}}", "none"),
    ("{{range .Config.Entrypoint}}x{{else}}nil{{end}}", "nil"),
    ("{{range $p, $conf := .NetworkSettings.Ports}}{{$p}}->{{$conf}} {{end}}",
     "443/tcp-><nil> 80/tcp->[map[HostIp:0.0.0.0 HostPort:8080]] "),
    ("{{range .Mounts}}{{$.Name}}:{{.Source}} {{end}}", "/web:/srv/a /web:/srv/b "),
    ("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{continue}}{{end}}{{.}},{{end}}", "sh,echo hi,"),
    ("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{break}}{{end}}{{.}},{{end}}", "sh,"),
    ("{{range 3}}{{.}}{{end}}", "012"),
    # variables
    ("{{$n := .Name}}{{$n}}{{$n = \"x\"}} {{$n}}", "/web x"),
    ("{{$}}", None),
    ("{{$.State.Status}}", "running"),
    ("{{$m := index .Mounts 0}}{{$m.Source}}", "/srv/a"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
    # literals, pipelines, parentheses, whitespace trimming, comments
    ('{{"quoted\\t\\u00e9"}}|{{`raw\\n`}}|{{1.5}}|{{0x1F}}|{{1e3}}|{{true}}|{{-7}}', "quoted\t\u00e9|raw\\n|1.5|31|1000|true|-7"),
    ("{{'a'}}", "97"),
    ('{{"abc" | upper | printf "%s-%s" "x"}}', "x-ABC"),
    ('{{(printf "%d" 5)}}', "5"),
    ("a  {{- .Name -}}  b", "a/webb"),
    ("x\n  {{- /* a comment */ -}}\n  y", "xy"),
    ("{{/* only a comment */}}", ""),
    ("{{- .Name }} \n", "/web \n"),
    ("{{.Name}}-{{ .Name }}", "/web-/web"),
    ("no actions at all", "no actions at all"),
    ("{{\n.Name\n}}", "/web"),
    ("{{print nil}} {{print .Nope}}", "<nil> <nil>"),
    ("{{with .Nope}}x{{else with .State}}{{.Pid}}{{end}}", "4242"),
    ("{{$last := \"\"}}{{range $last = .Config.Cmd}}{{end}}{{$last}}", "echo hi"),
    ('{{printf "%3v|%-4v|%T" .Nope.bogus "ab" .Mounts}}', "<nil>|ab  |[]interface {}"),
]


@pytest.mark.parametrize("tmpl,want", [c for c in CASES if c[1] is not None])
def test_render(tmpl, want):
    assert render(tmpl, C) == want


def test_whole_object_prints_as_go_map():
    obj = {"b": [1, "x", None], "a": {"k": True}}
    assert render("{{.}}", obj) == "map[a:map[k:true] b:[1 x <nil>]]"
    assert render("{{$}}", obj) == render("{{.}}", obj)


def test_json_whole_object_keeps_order_and_is_compact():
    obj = {"Z": 1, "A": {"n": None, "l": [1, 2.5, "s"]}, "T": True}
    assert render("{{json .}}", obj) == '{"Z":1,"A":{"n":null,"l":[1,2.5,"s"]},"T":true}'


@pytest.mark.parametrize("value,want", [
    (1.0, "1"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (1.5e-7, "1.5e-7"),
    (0.000001, "0.000001"), (-0.0, "-0"), (123.456, "123.456"), ("\n\t\"\\\x01\u2028é", '"\\n\\t\\"\\\\\\u0001\\u2028é"'),
    ("\b\f", '"\\b\\f"'),
])
def test_json_spelling_is_gos(value, want):
    assert go_json(value) == want


def test_json_html_escaping_on_request():
    assert go_json("<a&b>", escape_html=True) == '"\\u003ca\\u0026b\\u003e"'


@pytest.mark.parametrize("value,want", [
    (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"), (0.0001, "0.0001"),
    (0.00001, "1e-05"), (2.0, "2"), (-1.5, "-1.5"), (float("inf"), "+Inf"), (float("nan"), "NaN"),
    ([], "[]"), ({}, "map[]"), ([[1, 2], {"b": 1, "a": None}], "[[1 2] map[a:<nil> b:1]]"),
])
def test_go_str_matches_fmt(value, want):
    assert go_str(value) == want


def test_callable_values_are_methods():
    row = {"ID": lambda: "abc", "Label": lambda name: {"x": "1"}.get(name, "")}
    assert render('{{.ID}} {{.Label "x"}}[{{.Label "y"}}]', row) == "abc 1[]"
    # a whole object shows the argument-free methods only, as docker's MarshalJSON does
    assert render("{{json .}}", row) == '{"ID":"abc"}'
    assert render("{{.}}", row) == "map[ID:abc]"


def test_json_of_nan_prints_nothing_like_docker():
    assert render("{{json .}}", float("nan")) == ""


# -- tables -----------------------------------------------------------------------------------

def test_split_table():
    assert split_table("table {{.ID}}\\t{{.Image}}") == (True, "{{.ID}}\t{{.Image}}")
    assert split_table("table") == (True, "")
    assert split_table("{{.ID}}\\n") == (False, "{{.ID}}\n")
    assert split_table("  {{.ID}}  ") == (False, "{{.ID}}")
    assert split_table("json") == (False, "{{json .}}")


ROWS = [
    {"ID": "4f1c0ffee123", "Image": "busybox", "Names": "web", "CreatedAt": "now"},
    {"ID": "ab", "Image": "registry.example.com/team/app:1.2.3", "Names": "db", "CreatedAt": "then"},
]


def test_table_header_and_alignment():
    out = render_table("table {{.ID}}\\t{{.Image}}\\t{{.Names}}", ROWS, {"ID": "CONTAINER ID"})
    assert out == (
        "CONTAINER ID   IMAGE                                 NAMES\n"
        "4f1c0ffee123   busybox                               web\n"
        "ab             registry.example.com/team/app:1.2.3   db\n"
    )


def test_table_min_width_and_default_headers():
    out = render_table("table {{.Names}}\t{{.CreatedAt}}\t{{.ID}}", ROWS[:1])
    assert out == "NAMES     CREATED AT   ID\nweb       now          4f1c0ffee123\n"


def test_table_header_keeps_names_through_functions():
    out = render_table("table {{upper .Names}}\t{{truncate .ID 4}}\t{{json .Image}}", ROWS[:1])
    assert out.splitlines() == ["NAMES     ID        IMAGE", "WEB       4f1c      \"busybox\""]


def test_table_with_no_rows_is_just_the_header():
    assert render_table("table {{.ID}}\t{{.Image}}", [], {"ID": "CONTAINER ID"}) == "CONTAINER ID   IMAGE\n"


def test_non_table_format_is_one_line_per_row():
    assert render_table("{{.Names}}: {{.Image}}", ROWS) == "web: busybox\ndb: registry.example.com/team/app:1.2.3\n"
    assert render_table("{{.Names}}", []) == ""
    # a row is a Go map to docker's json: keys sorted, <, > and & escaped
    assert render_table("json", ROWS[:1]) == (
        '{"CreatedAt":"now","ID":"4f1c0ffee123","Image":"busybox","Names":"web"}\n')
    assert render_table("json", [{"Digest": "<none>", "B": "a&b"}]) == '{"B":"a\\u0026b","Digest":"\\u003cnone\\u003e"}\n'
    assert render_table("{{json .Digest}}", [{"Digest": "<none>"}]) == '"<none>"\n'  # a field: docker's encoder


def test_tabwriter_columns_are_per_block():
    # Go's example: the b column is not contiguous, so c starts a column of its own
    text = "aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n"
    assert tabwrite(text, minwidth=0, padding=1).splitlines() == [
        "aaaa bbb d", "aa   b   dd", "a    ", "aa   cccc eee"]


def test_tabwriter_counts_wide_characters_twice():
    assert tabwrite("日本\tx\nab\ty\n", minwidth=0, padding=1) == "日本 x\nab   y\n"


# -- errors -----------------------------------------------------------------------------------

PARSE_ERRORS = [
    ("{{.Name }", 'template parsing error: template: :1: unexpected "}" in operand'),
    ("{{.Name}", "template parsing error: template: :1: unexpected bad character U+007D '}' in command"),
    ("{{.Name", "template parsing error: template: :1: unclosed action"),
    ("{{if .X}}a", "template parsing error: template: :1: unexpected EOF"),
    ("{{end}}", "template parsing error: template: :1: unexpected {{end}}"),
    ("{{else}}", "template parsing error: template: :1: unexpected {{else}}"),
    ("{{nosuch .X}}", 'template parsing error: template: :1: function "nosuch" not defined'),
    ("{{$x}}", 'template parsing error: template: :1: undefined variable "$x"'),
    ("{{}}", "template parsing error: template: :1: missing value for command"),
    ("{{if}}{{end}}", "template parsing error: template: :1: missing value for if"),
    ('{{"abc}}', "template parsing error: template: :1: unexpected unterminated quoted string in command"),
    ("{{(.X}}", "template parsing error: template: :1: unclosed left paren"),
    ("{{.X)}}", "template parsing error: template: :1: unexpected right paren U+0029 ')'"),
    ("{{break}}", "template parsing error: template: :1: {{break}} outside {{range}}"),
    ("{{/* x", "template parsing error: template: :1: unexpected unclosed comment in input"),
    ("line1\n{{if .X}}\n{{else}}\n{{else}}{{end}}", "template parsing error: template: :4: expected end; found {{else}}"),
    ("{{.X | 3}}", "template parsing error: template: :1: non executable command in pipeline stage 2"),
    ('{{"a".X}}', "template parsing error: template: :1: unexpected . after term \"\\\"a\\\"\""),
    ("{{range $a, $b, $c := .X}}{{end}}", "template parsing error: template: :1: too many declarations in range"),
    ('{{template "x"}}', "template parsing error: template: :1: {{template}} is not supported"),
]


@pytest.mark.parametrize("tmpl,msg", PARSE_ERRORS)
def test_parse_errors(tmpl, msg):
    with pytest.raises(errors.InvalidArgument) as exc:
        render(tmpl, C)
    assert str(exc.value) == msg


EXEC_ERRORS = [
    ("{{.Name.First}}", 'template: :1:2: executing "" at <.Name.First>: can\'t evaluate field First in type string'),
    ("{{index .Mounts 5}}", 'executing "" at <index .Mounts 5>: error calling index: index out of range: 5'),
    ("{{index .Size 0}}", "error calling index: can't index item of type int"),
    ("{{upper .State.Pid}}", "wrong type for value; expected string; got int"),
    ("{{upper .Nope}}", "invalid value; expected string"),
    ("{{upper}}", "wrong number of args for upper: want 1 got 0"),
    ('{{if eq .State.Pid "4242"}}{{end}}', "error calling eq: incompatible types for comparison"),
    ("{{len .Size}}", "error calling len: len of type int"),
    ("{{range .Name}}{{end}}", "range can't iterate over /web"),
    ('{{.Name "x"}}', "Name is not a method but has arguments"),
    ("{{nil}}", "nil is not a command"),
    ("{{1 2}}", "can't give argument to non-function 1"),
    ("x\n  {{.Name.First}}", 'template: :2:4: executing "" at <.Name.First>'),
]


@pytest.mark.parametrize("tmpl,fragment", EXEC_ERRORS)
def test_exec_errors(tmpl, fragment):
    with pytest.raises(errors.InvalidArgument) as exc:
        render(tmpl, C)
    assert str(exc.value).startswith("template parsing error: template: :")
    assert fragment in str(exc.value)


@pytest.mark.parametrize("tmpl", [
    "{{", "}}{{", "{{{{", "{{.}}}}", "{{-}}", "{{ - }}", "{{$ := 1}}", "{{:}}", "{{=}}", "{{,}}",
    "{{range $i, := .X}}{{end}}", "{{else if}}", "{{if 1}}{{else}}{{else}}{{end}}", "{{'ab'}}",
    "{{\"\\q\"}}", "{{0x}}", "{{1.2.3}}", "{{(}}", "{{())}}", "{{.X.}}", "{{$.}}", "{{.X | }}",
    "{{\x00}}", "{{é}}", "{{printf}}", "{{index}}", "{{slice .Name 3 1}}", "{{truncate .Name -1}}",
    "{{with}}{{end}}", "{{define \"x\"}}{{end}}", "{{" + "(" * 400 + "1" + ")" * 400 + "}}",
])
def test_bad_input_never_escapes_as_a_python_error(tmpl):
    try:
        render(tmpl, C)
    except errors.InvalidArgument:
        pass


def test_header_errors_keep_the_partial_header_like_docker():
    # in the header row .Names is the string "NAMES", so .Names.First fails there; docker ignores
    # the header's error and keeps what was written before it, and the rows still render
    out = render_table("table {{.ID}}\t{{.Names.First}}", [{"ID": "a", "Names": {"First": "n"}}])
    assert out == "ID        \na         n\n"


def test_table_parse_error_is_reported_even_without_rows():
    with pytest.raises(errors.InvalidArgument):
        render_table("table {{.ID", [])


def test_random_templates_fail_only_with_our_own_errors():
    import random

    atoms = ["{{", "}}", "{{- ", " -}}", " ", ".", ".A", ".B.C", "$", "$x", ":=", "=", ",", "|", "(", ")",
             '"s"', "`r`", "'c'", "1", "-2", "1.5", "nil", "true", "if", "else", "end", "range", "with",
             "break", "json", "index", "printf", '"%d%v"', "len", "eq", "and", "slice", "split", "/*", "*/",
             "\n", "x", "\\", '"', "}", "{"]
    data = {"A": [1, "a", None, {"k": 2.5}], "B": {"C": "str", "D": None}}
    rnd = random.Random(7)
    for _ in range(3000):
        t = "".join(rnd.choice(atoms) for _ in range(rnd.randint(1, 12)))
        try:
            render(t, data)
        except errors.InvalidArgument as e:
            # raised by the template engine itself, not by its last-resort net over Python errors
            assert e.__cause__ is None or isinstance(e.__cause__, RecursionError), (t, e)
