"""The one URL parser (balancecli.net.urls): what it accepts is read the same by urllib.parse
and by urllib3 (which requests uses), and what they could read apart is refused."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from urllib3.util import parse_url as urllib3_parse

from balancecli.core.errors import BadResponseError, ConfigError
from balancecli.net.urls import BadUrl, check_url, segment, split

ACCEPTED = [
    "https://api.tradestation.com/v3/brokerage/accounts",
    "http://127.0.0.1:8080/balancecli-export.json",
    "http://[::1]:31022/",
    "https://Sim-API.TradeStation.com",
    "http://localhost:9/x?a=1&b=%2F",
    "https://pub-api-trader-demo-prod.etnasoft.us/api/v1.0/accounts/A%2FB/info",
    "https://host_with_underscore.internal/api",
    "https://h/.well-known/x",
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_what_is_accepted_every_parser_reads_alike(url):
    ours = split(url)
    theirs = urlsplit(url)
    other = urllib3_parse(url)
    assert ours.host == theirs.hostname == other.host.strip("[]").lower()
    assert ours.port == theirs.port == other.port
    assert ours.scheme == theirs.scheme == other.scheme
    assert ours.target == (theirs.path or "/") + (f"?{theirs.query}" if theirs.query else "")


REFUSED = {
    "http://127.0.0.1#@evil.example/": "it has a fragment ('#')",
    "http://127.0.0.1:1/x#@[::1]:2/": "it has a fragment ('#')",
    "http://evil.example\\@127.0.0.1/": "it has a backslash",
    "http://127.0.0.1 @evil.example/": "it has whitespace or a control character",
    "http://127.0.0.1\n@evil.example/": "it has whitespace or a control character",
    "http://user:pw@127.0.0.1/": "it has a user name or password (user info before an '@')",
    "http://%31%32%37.0.0.1/": "its host has a '%'",
    "http://[::1%25eth0]:1/": "its host has a '%'",
    "http://:80/": "its host is empty",
    "http:///x": "its host is empty",
    "http://127.0.0.1:/": "its port is empty or above 65535",
    "http://127.0.0.1:99999/": "its port is empty or above 65535",
    "http://0x7f.1/": "its host '0x7f.1' is a number but not a dotted IPv4 address",
    "http://2130706433/": "its host '2130706433' is a number but not a dotted IPv4 address",
    "http://127.000.0.1/": "its host '127.000.0.1' is a number but not a dotted IPv4 address",
    "http://h/a/../b": "its path has a '.' or '..' segment",
    "http://h/a/%2e%2E/b": "its path has a '.' or '..' segment",
    "http://h/%zz": "it has a '%' that is not followed by two hex digits",
    "http://bücher.example/": "it has a character outside ASCII (write the host in its xn-- "
                              "form and percent-encode the path)",
    "http://h/a[1]": "it has '[' or ']' outside an IPv6 host",
    "http://a..b/": "its host has an empty label or starts with '-'",
    "127.0.0.1:8080": "it is not of the form scheme://host/path",
    "http://h/<x>": "it has the character '<', which a URL cannot carry unencoded",
}


@pytest.mark.parametrize("url", REFUSED)
def test_what_parsers_could_read_apart_is_refused(url):
    with pytest.raises(BadUrl) as info:
        split(url)
    assert info.value.reason == REFUSED[url]


def test_a_config_url_names_the_setting_and_never_the_password():
    with pytest.raises(ConfigError) as info:
        check_url("ts", "base_url", "https://me:s3cret@broker.example/")
    assert "s3cret" not in info.value.message and "me:" not in info.value.message
    assert info.value.message.startswith("setting 'base_url' must not contain a user name")
    with pytest.raises(ConfigError, match="must be an https:// URL"):
        check_url("ts", "base_url", "http://broker.example/")
    with pytest.raises(ConfigError, match="must not have a query"):
        check_url("ts", "base_url", "https://broker.example/api?x=1")
    assert check_url("ts", "token_url", "https://broker.example/t?x=1").query == "x=1"


@pytest.mark.parametrize(("value", "encoded"), [("A/B", "A%2FB"), ("a b", "a%20b"),
                                                ("x?y#z", "x%3Fy%23z"), ("%2e", "%252e"),
                                                ("83267", "83267")])
def test_an_id_is_one_path_segment(value, encoded):
    assert segment(value) == encoded
    assert split(f"https://h/accounts/{encoded}/info").path == f"/accounts/{encoded}/info"


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_dot_and_empty_ids_are_no_path_segment(value):
    with pytest.raises(BadResponseError, match="cannot be used in a URL path"):
        segment(value)
