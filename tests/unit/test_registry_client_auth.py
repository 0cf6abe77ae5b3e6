"""Registry auth pieces: WWW-Authenticate parsing, the Authorizer's token flow and cache, insecure hosts."""

from __future__ import annotations

import base64
import json

import pytest

from dockyard import errors
from dockyard.registry.auth import Authorizer, basic_header, parse_challenges
from dockyard.registry.client import describe_errors, is_insecure
from dockyard.registry.credentials import Credentials


def test_parse_bearer_challenge_with_quoted_commas():
    h = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",' \
        'scope="repository:library/busybox:pull,push"'
    assert parse_challenges(h) == [("bearer", {"realm": "https://auth.docker.io/token",
                                               "service": "registry.docker.io",
                                               "scope": "repository:library/busybox:pull,push"})]


def test_parse_several_challenges_and_odd_spacing():
    h = 'Basic realm="test" , Bearer realm=https://t.example/token, service = "a\\"b",  error="invalid_token"'
    assert parse_challenges(h) == [
        ("basic", {"realm": "test"}),
        ("bearer", {"realm": "https://t.example/token", "service": 'a"b', "error": "invalid_token"}),
    ]


def test_parse_scheme_only_and_empty():
    assert parse_challenges("Basic") == [("basic", {})]
    assert parse_challenges("") == []
    assert parse_challenges('NEGOTIATE abc==, Basic realm="x"') == [("negotiate", {}), ("basic", {"realm": "x"})]


class FakeTokenServer:
    def __init__(self, status=200, doc=None):
        self.calls = []
        self.status = status
        self.doc = doc if doc is not None else {"token": "tok-1", "expires_in": 300}

    def __call__(self, url, headers):
        self.calls.append((url, dict(headers)))
        return self.status, json.dumps(self.doc).encode()


def test_bearer_token_is_requested_with_scopes_and_basic_creds_and_cached():
    fetch = FakeTokenServer()
    a = Authorizer("r.example", Credentials("u", "p"), fetch)
    assert a.challenge(['Bearer realm="https://auth.example/token?x=1",service="reg"'])
    h1 = a.header(("repository:ns/app:pull",))
    h2 = a.header(("repository:ns/app:pull",))
    assert h1 == h2 == "Bearer tok-1"
    assert len(fetch.calls) == 1
    url, headers = fetch.calls[0]
    assert url.startswith("https://auth.example/token?x=1&")
    assert "service=reg" in url and "scope=repository%3Ans%2Fapp%3Apull" in url and "account=u" in url
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    a.header(("repository:ns/app:pull,push", "repository:other:pull"))  # another scope set: another token
    assert len(fetch.calls) == 2
    assert fetch.calls[1][0].count("scope=") == 2
    a.forget(("repository:ns/app:pull",))
    a.header(("repository:ns/app:pull",))
    assert len(fetch.calls) == 3


def test_anonymous_token_and_access_token_field():
    fetch = FakeTokenServer(doc={"access_token": "anon"})
    a = Authorizer("docker.io", None, fetch)
    a.challenge(['Bearer realm="https://auth.example/token",service="reg"'])
    assert a.header(("repository:library/busybox:pull",)) == "Bearer anon"
    assert "Authorization" not in fetch.calls[0][1]


def test_basic_challenge_sends_credentials_and_bearer_wins_over_basic():
    a = Authorizer("r", Credentials("user", "pa:ss"), FakeTokenServer())
    a.challenge(['Basic realm="x"'])
    assert a.header(()) == basic_header("user", "pa:ss")
    assert Authorizer("r", None, FakeTokenServer()).header(()) is None
    b = Authorizer("r", None, FakeTokenServer())
    b.challenge(['Basic realm="x"', 'Bearer realm="https://t/x"'])
    assert b.scheme == "bearer"


def test_token_server_refusal_is_a_clear_unauthorized_error():
    fetch = FakeTokenServer(status=401, doc={"errors": [{"code": "UNAUTHORIZED", "message": "bad creds"}]})
    a = Authorizer("r.example:5000", Credentials("u", "wrong"), fetch)
    a.challenge(['Bearer realm="http://127.0.0.1:1/token"'])
    with pytest.raises(errors.PermissionDenied) as e:
        a.header(("repository:x:pull",))
    assert "unauthorized: bad creds" in str(e.value)
    assert "dockyard login r.example:5000" in e.value.hint


def test_token_response_without_token_is_unavailable():
    a = Authorizer("r", None, FakeTokenServer(doc={"nothing": 1}))
    a.challenge(['Bearer realm="http://x/token"'])
    with pytest.raises(errors.Unavailable):
        a.header(())


def test_describe_errors_renders_docker_style():
    body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {}}]})
    assert describe_errors(body.encode()) == "manifest unknown: manifest unknown"
    assert describe_errors(b"not json") == ""
    two = {"errors": [{"code": "DENIED", "message": "no"}, {"code": "NAME_UNKNOWN"}]}
    assert describe_errors(json.dumps(two).encode()) == "denied: no; name unknown"


def test_insecure_registries(monkeypatch):
    monkeypatch.delenv("DOCKYARD_INSECURE_REGISTRIES", raising=False)
    assert is_insecure("localhost:5000") and is_insecure("127.0.0.1:5000") and is_insecure("127.9.9.9")
    assert is_insecure("[::1]:5000")
    assert not is_insecure("registry.example:5000") and not is_insecure("docker.io")
    assert is_insecure("registry.example:5000", flag=True)
    monkeypatch.setenv("DOCKYARD_INSECURE_REGISTRIES", "registry.example:5000, other.example ,10.1.0.0/16")
    assert is_insecure("registry.example:5000")
    assert not is_insecure("registry.example:5001")
    assert is_insecure("other.example:443")
    assert is_insecure("10.1.2.3:5000") and not is_insecure("10.2.0.1:5000")
