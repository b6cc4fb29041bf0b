"""Web traffic from access logs through the Python API: small hand-written logs in every format
with hit and byte counts worked out by hand, malformed lines, IPv6, odd request lines, query
strings and grouping, bots, visitors, time zones, gzip/globs, GeoIP, and an independent count
(plain Python) over a generated log. CLI behaviour is in tests/test_traffic_cli.py.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers import Writer
from topshare.errors import TopshareError
from topshare.result import Analysis
from topshare.traffic import traffic

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def line(
    ip: str,
    when: str,
    request: str,
    status: int | str,
    size: int | str,
    referrer: str = "-",
    agent: str = FIREFOX,
) -> str:
    """One combined-format line (``when`` as Apache writes it, with its offset)."""
    return f'{ip} - - [{when}] "{request}" {status} {size} "{referrer}" "{agent}"'


# Seven requests; the expected counts in the tests below are worked out from these by hand.
# Times in UTC: L1 11 Oct 06:30, L2 11 Oct 07:00, L3 10 Oct 23:30, L4-L7 11 Oct 12:00.
SAMPLE = [
    line("203.0.113.1", "10/Oct/2024:23:30:00 -0700", "GET /index.html?utm=a HTTP/1.1", 200, 1000,
         "https://www.google.com/search?q=x"),
    line("203.0.113.1", "11/Oct/2024:07:00:00 +0000", "GET /index.html HTTP/1.1", 200, 1000),
    line("203.0.113.2", "11/Oct/2024:00:30:00 +0100", "GET /about HTTP/1.1", 404, 200,
         "http://Blog.Example.org:8080/post", CHROME),
    line("203.0.113.2", "11/Oct/2024:12:00:00 +0000", "POST /api/v1/items?id=3 HTTP/1.1", 201, "-",
         "-", CHROME),
    line("198.51.100.7", "11/Oct/2024:12:00:00 +0000", "GET /index.html HTTP/1.1", 304, "-",
         "https://www.google.com/", GOOGLEBOT),
    line("198.51.100.7", "11/Oct/2024:12:00:00 +0000", "GET /robots.txt HTTP/1.1", 200, 50, "-",
         GOOGLEBOT),
    line("2001:db8:abcd:12::1", "11/Oct/2024:12:00:00 +0000", "GET /about HTTP/1.1", 500, 300),
]  # fmt: skip


def counts(result: Analysis) -> dict[str, int]:
    """Every entity's value (the test asks for a top large enough to list them all)."""
    assert result.others.entities == 0
    out = {r.entity: int(r.value) for r in result.top}
    assert sum(out.values()) == int(result.total)
    return out


def rejected(result: Analysis, reason: str) -> list[tuple[int | None, str | None]]:
    """(line, value) of the examples of one rejection reason, and checks the count."""
    found = [r for r in result.rows.rejected_by_reason if r.reason == reason]
    if not found:
        return []
    return [(e.line, e.value) for e in found[0].examples]


def run(path: Path | str | list[str], **kwargs: Any) -> Analysis:
    return traffic(path if isinstance(path, list) else str(path), top=1000, **kwargs)


@pytest.fixture
def sample(write: Writer) -> Path:
    return write("access.log", "\n".join(SAMPLE) + "\n")


# -- combined: every dimension by hand ----------------------------------------------------------


def test_combined_is_detected_and_counted_by_path(sample: Path) -> None:
    r = run(sample)
    assert r.traffic is not None
    assert r.traffic.format == "combined"
    assert counts(r) == {"/index.html": 3, "/about": 2, "/api/v1/items": 1, "/robots.txt": 1}
    assert (r.n_entities, r.rows.read, r.rows.rejected) == (4, 7, 0)
    assert r.top_n_share == 1.0


def test_combined_bytes_by_path_and_by_ip(sample: Path) -> None:
    assert counts(run(sample, measure="bytes")) == {
        "/index.html": 2000, "/about": 500, "/robots.txt": 50, "/api/v1/items": 0,
    }  # fmt: skip
    assert counts(run(sample, by="ip", measure="bytes")) == {
        "203.0.113.1": 2000, "2001:db8:abcd:12::1": 300, "203.0.113.2": 200, "198.51.100.7": 50,
    }  # fmt: skip
    by_ip = run(sample, by="ip")
    assert counts(by_ip) == {
        "198.51.100.7": 2, "203.0.113.1": 2, "203.0.113.2": 2, "2001:db8:abcd:12::1": 1,
    }  # fmt: skip
    # equal hits: ties broken by the key, ascending
    assert [t.entity for t in by_ip.top][:3] == ["198.51.100.7", "203.0.113.1", "203.0.113.2"]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("status", {"200": 3, "404": 1, "201": 1, "304": 1, "500": 1}),
        ("status-class", {"2xx": 4, "3xx": 1, "4xx": 1, "5xx": 1}),
        ("method", {"GET": 6, "POST": 1}),
        ("protocol", {"HTTP/1.1": 7}),
        ("referrer-domain", {"(direct)": 4, "www.google.com": 2, "blog.example.org": 1}),
        ("referrer", {"-": 4, "https://www.google.com/search?q=x": 1,
                      "http://Blog.Example.org:8080/post": 1, "https://www.google.com/": 1}),
        ("user-agent", {FIREFOX: 3, CHROME: 2, GOOGLEBOT: 2}),
        ("subnet", {"203.0.113.0/24": 4, "198.51.100.0/24": 2, "2001:db8:abcd::/48": 1}),
        ("url", {"/index.html?utm=a": 1, "/index.html": 2, "/about": 2,
                 "/api/v1/items?id=3": 1, "/robots.txt": 1}),
    ],
)  # fmt: skip
def test_combined_dimensions(sample: Path, by: str, expected: dict[str, int]) -> None:
    assert counts(run(sample, by=by)) == expected


def test_browser_and_os_families(sample: Path) -> None:
    browsers = counts(run(sample, by="browser"))
    assert (browsers["Firefox"], browsers["Chrome"]) == (3, 2)
    assert sum(browsers.values()) == 7
    systems = counts(run(sample, by="os", measure="bytes"))
    assert (systems["Linux"], systems["Windows"]) == (2300, 200)


def test_status_class_bytes(sample: Path) -> None:
    assert counts(run(sample, by="status-class", measure="bytes")) == {
        "2xx": 2050, "5xx": 300, "4xx": 200, "3xx": 0,
    }  # fmt: skip


# -- query strings and grouping -----------------------------------------------------------------


def test_keep_query(sample: Path) -> None:
    assert counts(run(sample, keep_query=True)) == {
        "/index.html": 2, "/about": 2, "/index.html?utm=a": 1, "/api/v1/items?id=3": 1,
        "/robots.txt": 1,
    }  # fmt: skip


def test_group_rules_first_match_wins_with_groups(sample: Path) -> None:
    rules = [r"^/api/v\d+/(\w+).*=>/api/\1", r"^/a.*=>/a-pages", r"^/about$=>/never"]
    assert counts(run(sample, group=rules)) == {
        "/index.html": 3, "/a-pages": 2, "/api/items": 1, "/robots.txt": 1,
    }  # fmt: skip


def test_group_rules_apply_after_the_query_is_stripped(sample: Path) -> None:
    got = counts(run(sample, group=[r"^/index\.html$=>/"]))
    assert got["/"] == 3
    assert "/index.html" not in got


def test_group_regex_invalid_in_python_is_a_usage_error(sample: Path) -> None:
    with pytest.raises(TopshareError, match=r"^--group '\^/\(a': not a valid regular expression"):
        run(sample, group=["^/(a=>x"])


def test_group_regex_the_engine_refuses_names_the_group(sample: Path) -> None:
    # valid for Python's re, not for the engine's (RE2: no look-ahead)
    with pytest.raises(TopshareError, match=r"--group"):
        run(sample, group=["^/(?!about)a=>x"])


# -- bots ---------------------------------------------------------------------------------------


def test_bot_share_and_filters(sample: Path) -> None:
    r = run(sample)
    t = r.traffic
    assert t is not None
    assert (t.all_hits, t.all_bytes, t.bot_hits, t.bot_bytes) == (7, 2550, 2, 50)
    assert t.bot_share_hits == pytest.approx(2 / 7)
    assert t.bot_share_bytes == pytest.approx(50 / 2550)
    assert t.bots == "include"
    no_bots = run(sample, exclude_bots=True)
    assert counts(no_bots) == {"/index.html": 2, "/about": 2, "/api/v1/items": 1}
    assert no_bots.traffic is not None
    assert no_bots.traffic.bot_hits == 2
    only = run(sample, only_bots=True, measure="bytes")
    assert counts(only) == {"/robots.txt": 50, "/index.html": 0}
    assert int(no_bots.total) + int(run(sample, only_bots=True).total) == int(r.total)


def test_exclude_and_only_bots_together_is_an_error(sample: Path) -> None:
    with pytest.raises(TopshareError, match="not both"):
        run(sample, exclude_bots=True, only_bots=True)


def test_bot_list_comes_from_the_package() -> None:
    import crawleruseragents

    from topshare.useragents import is_bot

    assert len(crawleruseragents.CRAWLER_USER_AGENTS_DATA) > 100
    assert is_bot(GOOGLEBOT)
    assert not is_bot(FIREFOX)
    assert not is_bot(CHROME)
    assert not is_bot("-")
    assert not is_bot("")


def test_bot_filter_on_a_format_without_user_agent(write: Writer) -> None:
    path = write("common.log", '1.2.3.4 - - [10/Oct/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 5\n')
    with pytest.raises(TopshareError, match=r"user agent|user-agent") as err:
        run(path, exclude_bots=True)
    assert "Binder" not in str(err.value)


def test_totals_known_without_user_agent(write: Writer) -> None:
    path = write(
        "common.log",
        '1.2.3.4 - - [10/Oct/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 5\n'
        '1.2.3.4 - - [10/Oct/2024:10:00:00 +0000] "GET /b HTTP/1.1" 200 7\n',
    )
    r = run(path, measure="bytes")
    assert r.traffic is not None
    assert r.traffic.format == "common"
    assert counts(r) == {"/b": 7, "/a": 5}
    assert (r.traffic.all_hits, r.traffic.all_bytes) == (2, 12)


# -- visitors and time --------------------------------------------------------------------------


def test_visitors_per_top_path(sample: Path) -> None:
    # /index.html: (203.0.113.1, Firefox, 11 Oct) twice + (198.51.100.7, Googlebot, 11 Oct) = 2
    # /about: (203.0.113.2, Chrome, 10 Oct) + (2001:db8:abcd:12::1, Firefox, 11 Oct) = 2
    t = run(sample).traffic
    assert t is not None
    assert {v.entity: v.count for v in t.visitors} == {
        "/index.html": 2, "/about": 2, "/api/v1/items": 1, "/robots.txt": 1,
    }  # fmt: skip
    assert "not additive" in t.note


def test_visitors_days_follow_the_time_zone(sample: Path) -> None:
    # In Los Angeles (-07:00) L1 is on 10 Oct and L2 on 11 Oct: 203.0.113.1 is two visitors.
    t = run(sample, tz="America/Los_Angeles").traffic
    assert t is not None
    assert {v.entity: v.count for v in t.visitors}["/index.html"] == 3


def test_visitors_count_only_the_requests_in_the_date_window(sample: Path) -> None:
    # From 11 Oct (UTC): /about keeps only L7 (2001:db8:abcd:12::1, Firefox): one visitor, where
    # the whole log has two (L3 is on 10 Oct). /index.html keeps its three requests: 2 visitors.
    t = run(sample, date_from="2024-10-11").traffic
    assert t is not None
    assert {v.entity: v.count for v in t.visitors} == {
        "/index.html": 2, "/about": 1, "/api/v1/items": 1, "/robots.txt": 1,
    }  # fmt: skip
    # Up to 10 Oct: L3 alone.
    t = run(sample, date_to="2024-10-10").traffic
    assert t is not None
    assert {v.entity: v.count for v in t.visitors} == {"/about": 1}


def test_offsets_land_in_the_right_utc_day(sample: Path) -> None:
    r = run(sample, period="day")
    assert r.periods is not None
    assert {p.period: int(p.total) for p in r.periods} == {
        date(2024, 10, 10): 1,
        date(2024, 10, 11): 6,
    }
    assert r.date_range is not None
    assert r.date_range.first.replace(tzinfo=None) == datetime(2024, 10, 10, 23, 30)


def test_tz_converts_before_bucketing(sample: Path) -> None:
    r = run(sample, period="day", tz="America/Los_Angeles")
    assert r.periods is not None
    assert {p.period: int(p.total) for p in r.periods} == {
        date(2024, 10, 10): 2,
        date(2024, 10, 11): 5,
    }
    tokyo = run(sample, period="day", tz="Asia/Tokyo")  # +09:00: L3 is 11 Oct 08:30, rest 11th
    assert tokyo.periods is not None
    assert {p.period: int(p.total) for p in tokyo.periods} == {date(2024, 10, 11): 7}


def test_date_window(sample: Path) -> None:
    r = run(sample, date_from="2024-10-11")
    assert int(r.total) == 6
    assert r.rows.out_of_range == 1


# -- malformed, truncated and blank lines -------------------------------------------------------


def test_malformed_lines_are_counted_with_physical_line_numbers(write: Writer) -> None:
    good = SAMPLE[1]
    text = [good, "", good[:40], good, "garbage", "", good.replace("07:00:00", "27:61:00"), good]
    text += [f"junk {i}" for i in range(6)]
    path = write("bad.log", "\n".join(text) + "\n")
    r = run(path, log_format="combined")  # mostly garbage: too little to detect the format
    # lines 3, 5, 9..14 are malformed (8); line 7 matches the format but its time is impossible
    bad_lines = {3, 5, 9, 10, 11, 12, 13, 14}
    assert r.traffic is not None
    assert (r.traffic.lines, r.traffic.blank_lines) == (14, 2)
    found = [x for x in r.rows.rejected_by_reason if x.reason == "malformed_line"]
    assert found
    assert found[0].rows == 8
    examples = rejected(r, "malformed_line")
    assert 1 <= len(examples) <= 5
    for number, value in examples:
        assert number in bad_lines
        assert number is not None
        assert value == text[number - 1]
    assert all(e.file == str(path) or e.file == path.name for e in found[0].examples)
    assert [n for n, _ in rejected(r, "bad_date")] == [7]
    assert int(r.total) == 3
    assert r.rows.read == 12  # blank lines are neither read rows nor rejections


def test_strict_fails_on_a_malformed_line(write: Writer) -> None:
    path = write("bad.log", "\n".join([SAMPLE[0], "", SAMPLE[1][:30]]) + "\n")
    with pytest.raises(TopshareError, match=r"bad\.log:3: .*malformed_line"):
        run(path, strict=True)


def test_truncated_last_line_without_newline(write: Writer) -> None:
    path = write("cut.log", SAMPLE[0] + "\n" + SAMPLE[1][:-20])
    r = run(path)
    assert int(r.total) == 1
    assert [n for n, _ in rejected(r, "malformed_line")] == [2]


def test_crlf_lines(write: Writer) -> None:
    path = write("crlf.log", "\r\n".join(SAMPLE) + "\r\n")
    r = run(path)
    assert (int(r.total), r.rows.rejected) == (7, 0)
    assert counts(run(path, by="user-agent"))[GOOGLEBOT] == 2


# -- odd but legal request lines ----------------------------------------------------------------

ODD = [
    line("192.0.2.1", "10/Oct/2024:10:00:00 +0000", "-", 408, "-", "-", "-"),
    line("192.0.2.1", "10/Oct/2024:10:00:01 +0000", "GET /a b HTTP/1.1", 200, 5),
    line("192.0.2.1", "10/Oct/2024:10:00:02 +0000", "GET /", 200, 7),
    line("192.0.2.1", "10/Oct/2024:10:00:03 +0000", "GET /a HTTP/1.1", 200, 11, "-",
         r"Mozilla \"quoted\" agent"),
    line("192.0.2.1", "10/Oct/2024:10:00:04 +0000", "GET /100%25/x%zz?q=%41 HTTP/1.1", 200, 13),
    line("192.0.2.1", "10/Oct/2024:10:00:05 +0000", "GET /o'reilly HTTP/1.1", 200, 17),
    line("192.0.2.1", "10/Oct/2024:10:00:06 +0000", "GET /" + "x" * 20000 + " HTTP/1.1", 200, 19),
]  # fmt: skip


def test_odd_request_lines_parse(write: Writer) -> None:
    path = write("odd.log", "\n".join(ODD) + "\n")
    r = run(path, by="ip", measure="bytes")
    assert r.rows.rejected == 0
    assert counts(r) == {"192.0.2.1": 72}
    methods = counts(run(path, by="method"))
    assert methods["GET"] == 6
    protocols = counts(run(path, by="user-agent"))
    assert protocols[r"Mozilla \"quoted\" agent"] == 1


def test_odd_request_paths(write: Writer) -> None:
    path = write("odd.log", "\n".join(ODD[1:]) + "\n")
    got = counts(run(path, measure="bytes"))
    assert got == {
        "/a b": 5, "/": 7, "/a": 11, "/100%25/x%zz": 13, "/o'reilly": 17, "/" + "x" * 20000: 19,
    }  # fmt: skip
    visitors = run(path).traffic
    assert visitors is not None
    assert {v.entity: v.count for v in visitors.visitors}["/o'reilly"] == 1


def test_a_408_dash_request_is_not_a_rejection(write: Writer) -> None:
    """A legal request line without a target ('-', logged for timeouts) is a hit with the
    path '(none)': neither rejected nor dropped, so --strict accepts a valid log."""
    path = write("odd.log", "\n".join(ODD) + "\n")
    r = run(path, strict=True)
    assert int(r.total) == len(ODD)
    assert counts(run(path)).get("(none)") == 1


# -- IPv6 ---------------------------------------------------------------------------------------


def test_ipv6_addresses_and_subnets(write: Writer) -> None:
    ips = ["2001:db8:abcd:12::1", "2001:db8:abcd:ffff::2", "2001:db8:abce::3", "::1",
           "192.0.2.77", "192.0.2.1", "192.0.3.1"]  # fmt: skip
    when = "10/Oct/2024:10:00:00 +0000"
    path = write("v6.log", "\n".join(line(ip, when, "GET / HTTP/1.1", 200, 10) for ip in ips))
    assert counts(run(path, by="ip")) == dict.fromkeys(ips, 1)
    assert counts(run(path, by="subnet")) == {
        "2001:db8:abcd::/48": 2, "192.0.2.0/24": 2, "2001:db8:abce::/48": 1, "::/48": 1,
        "192.0.3.0/24": 1,
    }  # fmt: skip


def test_ipv4_mapped_ipv6_subnet_is_the_ipv4_slash_24(write: Writer) -> None:
    when = "10/Oct/2024:10:00:00 +0000"
    text = "\n".join(line(ip, when, "GET / HTTP/1.1", 200, 1) for ip in ["::ffff:192.0.2.1", "::1"])
    got = counts(run(write("m.log", text), by="subnet"))
    assert got.get("192.0.2.0/24") == 1
    assert got.get("::/48") == 1


# -- gzip, several files, globs -----------------------------------------------------------------


def test_gzip_several_files_and_globs(write: Writer, tmp_path: Path) -> None:
    write("a.log.gz", gzip.compress(("\n".join(SAMPLE[:4]) + "\n").encode()))
    write("b.log", "\n".join(SAMPLE[4:]) + "\n")
    both = run([str(tmp_path / "a.log.gz"), str(tmp_path / "b.log")])
    assert counts(both) == {"/index.html": 3, "/about": 2, "/api/v1/items": 1, "/robots.txt": 1}
    globbed = run(str(tmp_path / "*.log*"), by="ip", measure="bytes")
    assert int(globbed.total) == 2550
    assert globbed.source.files == 2


def test_malformed_lines_name_their_file(write: Writer, tmp_path: Path) -> None:
    write("a.log", SAMPLE[0] + "\nbroken\n")
    write("b.log", "\n" + SAMPLE[1] + "\n\nalso broken\n")
    r = run(str(tmp_path / "*.log"))
    bad = next(x for x in r.rows.rejected_by_reason if x.reason == "malformed_line")
    where = sorted((Path(e.file).name, e.line) for e in bad.examples)
    assert where == [("a.log", 2), ("b.log", 4)]


def test_gzip_without_gz_suffix(write: Writer) -> None:
    path = write("access.log.1", gzip.compress(("\n".join(SAMPLE) + "\n").encode()))
    assert int(run(path).total) == 7


# -- other formats ------------------------------------------------------------------------------


def test_common_format(write: Writer) -> None:
    text = "\n".join(s.rsplit(' "', 2)[0] for s in SAMPLE) + "\n"
    r = run(write("common.log", text), measure="bytes")
    assert r.traffic is not None
    assert r.traffic.format == "common"
    assert counts(r)["/index.html"] == 2000
    with pytest.raises(TopshareError, match="no field for --by/--segment referrer"):
        run(write("c2.log", text), by="referrer")


def test_vhost_combined(write: Writer) -> None:
    hosts = ["www.example.com:443", "api.example.com:443", "www.example.com:80"]
    text = "\n".join(f"{hosts[i % 3]} {s}" for i, s in enumerate(SAMPLE)) + "\n"
    r = run(write("vhost.log", text), by="vhost", measure="bytes")
    assert r.traffic is not None
    assert r.traffic.format == "vhost_combined"
    # www: L1, L3, L4, L6, L7 = 1000+200+0+50+300; api: L2, L5 = 1000+0
    assert counts(r) == {"www.example.com": 1550, "api.example.com": 1000}


def test_custom_apache_format_with_duration(write: Writer) -> None:
    fmt = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D'
    text = "\n".join(f"{s} {1000 * i}" for i, s in enumerate(SAMPLE)) + "\n" + SAMPLE[0] + "\n"
    r = run(write("d.log", text), log_format=fmt, by="ip")
    assert counts(r) == {
        "198.51.100.7": 2, "203.0.113.1": 2, "203.0.113.2": 2, "2001:db8:abcd:12::1": 1,
    }  # fmt: skip
    assert [n for n, _ in rejected(r, "malformed_line")] == [8]  # no %D: not this format


def test_custom_nginx_format_with_request_time_and_host(write: Writer) -> None:
    fmt = (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" $request_time $host'
    )
    hosts = ["shop.example", "api.example"]
    text = "\n".join(f"{s} 0.{i:03d} {hosts[i % 2]}" for i, s in enumerate(SAMPLE)) + "\n"
    path = write("n.log", text)
    # shop: L1, L3, L5, L7 (1000+200+0+300); api: L2, L4, L6 (1000+0+50)
    assert counts(run(path, log_format=fmt, by="vhost", measure="bytes")) == {
        "shop.example": 1500, "api.example": 1050,
    }  # fmt: skip
    assert counts(run(path, log_format=fmt, by="vhost")) == {"shop.example": 4, "api.example": 3}


def test_json_lines_nginx_keys(write: Writer) -> None:
    def obj(when: str, ip: str, request: str, status: Any, size: Any, ref: str, ua: str) -> str:
        return json.dumps({
            "time_iso8601": when, "remote_addr": ip, "request": request, "status": status,
            "body_bytes_sent": size, "http_referer": ref, "http_user_agent": ua,
        })  # fmt: skip

    rows = [
        obj("2024-10-10T23:30:00-07:00", "10.0.0.1", "GET /a?x=1 HTTP/1.1", 200, 10, "-", FIREFOX),
        obj("2024-10-11T10:00:00+00:00", "10.0.0.2", "GET /b HTTP/1.1", "404", "5",
            "https://x.org/p", GOOGLEBOT),
        obj("2024-10-11T11:00:00+00:00", "10.0.0.1", "GET /a HTTP/1.1", 200, 20, "-", FIREFOX),
        '{"time_iso8601":"2024-10-11T11:00:00+00:00","remote_addr":"10.0.0.1","requ',
    ]  # fmt: skip
    path = write("j.log", "\n".join(rows) + "\n")
    r = run(path, measure="bytes")
    assert r.traffic is not None
    assert r.traffic.format == "json"
    assert counts(r) == {"/a": 30, "/b": 5}
    assert [n for n, _ in rejected(r, "malformed_line")] == [4]
    assert counts(run(path, by="referrer-domain")) == {"(direct)": 2, "x.org": 1}
    assert (r.traffic.bot_hits, r.traffic.all_hits) == (1, 3)
    days = run(path, period="day")
    assert days.periods is not None
    assert {p.period: int(p.total) for p in days.periods} == {date(2024, 10, 11): 3}


def test_json_lines_with_mapped_nested_keys(write: Writer) -> None:
    rows = [
        '{"ts":1728603000,"client":{"addr":"10.0.0.1"},"req":{"path":"/a?q=1"},"code":200,"sz":10}',
        '{"ts":1728640800.5,"client":{"addr":"10.0.0.3"},"req":{"path":"/a"},"code":500,"sz":12}',
        '{"ts":1728640801,"client":{"addr":"10.0.0.3"},"req":{"path":"/b"},"code":200,"sz":1}',
    ]
    path = write("j.log", "\n".join(rows) + "\n")
    mapping = ["ip=client.addr", "target=req.path", "bytes=sz", "status=code", "time=ts"]
    assert counts(run(path, by="ip", measure="bytes", fields=mapping)) == {
        "10.0.0.3": 13, "10.0.0.1": 10,
    }  # fmt: skip
    assert counts(run(path, fields=mapping)) == {"/a": 2, "/b": 1}
    assert counts(run(path, by="status-class", fields=mapping)) == {"2xx": 2, "5xx": 1}
    r = run(path, fields=mapping, period="day")
    assert r.periods is not None  # 1728603000 = 2024-10-10 23:30 UTC; 1728640800 = 11 Oct 10:00
    assert {p.period: int(p.total) for p in r.periods} == {
        date(2024, 10, 10): 1,
        date(2024, 10, 11): 2,
    }
    assert datetime.fromtimestamp(1728603000, UTC).day == 10


def test_json_lines_with_apache_time_local(write: Writer) -> None:
    rows = [
        '{"time_local":"10/Oct/2024:23:30:00 -0700","remote_addr":"10.0.0.1","request":"GET /a HTTP/1.1","status":200,"body_bytes_sent":10}',
        '{"time_local":"11/Oct/2024:10:00:00 +0000","remote_addr":"10.0.0.2","request":"GET /b HTTP/1.1","status":200,"body_bytes_sent":5}',
    ]  # fmt: skip
    r = run(write("j.log", "\n".join(rows) + "\n"), period="day")
    assert r.rows.rejected == 0
    assert r.periods is not None
    assert {p.period: int(p.total) for p in r.periods} == {date(2024, 10, 11): 2}


IIS = "\r\n".join([
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2024-10-10 00:00:00",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes time-taken",
    "2024-10-10 23:59:59 10.0.0.1 GET /index.html - 443 - 203.0.113.5 "
    "Mozilla/5.0+(X11;+Linux+x86_64;+rv:120.0)+Gecko/20100101+Firefox/120.0 "
    "https://www.bing.com/search?q=x 200 0 0 1500 15",
    "2024-10-11 00:00:01 10.0.0.1 GET /img/a.png q=1 443 - 2001:db8:1:2::7 "
    "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html) - 304 0 0 0 3",
    "",
    "#Software: Microsoft Internet Information Services 10.0",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes time-taken",
    "2024-10-11 08:00:00 10.0.0.1 POST /api - 443 - 203.0.113.5 "
    "Mozilla/5.0+(X11;+Linux+x86_64;+rv:120.0)+Gecko/20100101+Firefox/120.0 - 500 0 0 200 100",
    "2024-10-11 08:00:00 10.0.0.1 POST",
]) + "\r\n"  # fmt: skip


def test_w3c_iis(write: Writer) -> None:
    path = write("u_ex241010.log", IIS)
    r = run(path, measure="bytes")
    assert r.traffic is not None
    assert r.traffic.format == "w3c"
    assert counts(r) == {"/index.html": 1500, "/api": 200, "/img/a.png": 0}
    assert (r.traffic.lines, r.traffic.directive_lines, r.traffic.blank_lines) == (11, 6, 1)
    assert [n for n, _ in rejected(r, "malformed_line")] == [11]
    assert (r.traffic.bot_hits, r.traffic.all_hits, r.traffic.all_bytes) == (1, 3, 1700)
    assert counts(run(path, by="ip")) == {"203.0.113.5": 2, "2001:db8:1:2::7": 1}
    assert counts(run(path, by="status-class")) == {"2xx": 1, "3xx": 1, "5xx": 1}
    assert counts(run(path, by="user-agent"))[FIREFOX] == 2  # '+' written for spaces
    assert counts(run(path, by="referrer-domain")) == {"(direct)": 2, "www.bing.com": 1}
    assert counts(run(path, by="url")) == {"/index.html": 1, "/api": 1, "/img/a.png?q=1": 1}
    days = run(path, period="day")  # W3C times are UTC
    assert days.periods is not None
    assert {p.period: int(p.total) for p in days.periods} == {
        date(2024, 10, 10): 1,
        date(2024, 10, 11): 2,
    }


def test_w3c_fields_changing_mid_file_are_not_misread(write: Writer) -> None:
    path = write(
        "u_ex.log",
        "#Fields: date time c-ip cs-uri-stem sc-status sc-bytes\n"
        "2024-10-10 10:00:00 1.1.1.1 /a 200 10\n"
        "#Fields: date time cs-uri-stem c-ip sc-bytes sc-status\n"
        "2024-10-10 10:00:00 /b 2.2.2.2 20 200\n",
    )
    try:
        got: dict[str, int] | str = counts(run(path, by="ip"))
    except TopshareError as exc:  # refusing the file is fine, with a clear line
        got = str(exc)
    if isinstance(got, str):
        assert "#Fields" in got
    else:
        assert got == {"1.1.1.1": 1, "2.2.2.2": 1}  # not '/b' as an IP


# -- GeoIP --------------------------------------------------------------------------------------


def test_country_from_a_tiny_maxmind_database(write: Writer, tmp_path: Path) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    db = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    db.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "FR"}})
    db.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "DE"}})
    mmdb = tmp_path / "tiny.mmdb"
    db.to_db_file(str(mmdb))
    path = write("access.log", "\n".join(SAMPLE) + "\n")
    # FR: L1-L4 (203.0.113.x); DE: L7; 198.51.100.7 is not in the database
    assert counts(run(path, by="country", geoip=mmdb)) == {"FR": 4, "(unknown)": 2, "DE": 1}
    assert counts(run(path, by="country", geoip=mmdb, measure="bytes")) == {
        "FR": 2200, "DE": 300, "(unknown)": 50,
    }  # fmt: skip
    with pytest.raises(TopshareError, match=r"needs a MaxMind-format database.*--geoip"):
        run(path, by="country")
    with pytest.raises(TopshareError, match=r"access\.log: not a MaxMind-format database"):
        run(path, by="country", geoip=path)
    with pytest.raises(TopshareError, match="no such GeoIP database file"):
        run(path, by="country", geoip=tmp_path / "nope.mmdb")


# -- segments and JSON --------------------------------------------------------------------------


def test_segments_and_periods_keep_their_keys(sample: Path) -> None:
    r = run(sample, period="day", segments=["status-class"])
    d = r.to_dict()
    for key in ("traffic", "periods", "segments", "scope", "rows", "top", "hhi"):
        assert key in d
    assert d["traffic"]["bot_hits"] == 2
    assert d["traffic"]["dimension"] == "path"
    seg = {s["segment"]["status_class"]: int(s["total"]) for s in d["segments"]}
    assert seg == {"2xx": 4, "3xx": 1, "4xx": 1, "5xx": 1}
    assert sum(int(p["total"]) for p in d["periods"]) == int(d["total"]) == 7


# -- an independent count over a generated log --------------------------------------------------


def _generated(seed: int, n: int) -> tuple[list[str], set[int]]:
    """A combined log with heavy-tailed IPs and paths, some bytes '-', query strings, blank lines
    and malformed lines; returns the lines and the (1-based) numbers of the malformed ones."""
    rng = random.Random(seed)
    ips = [f"10.{i // 250}.{i % 250}.{(7 * i) % 256}" for i in range(400)] + [
        f"2001:db8::{i:x}" for i in range(50)
    ]
    paths = [f"/p/{i}" for i in range(300)]
    weights_ip = [1 / (i + 1) ** 1.2 for i in range(len(ips))]
    weights_path = [1 / (i + 1) for i in range(len(paths))]
    out: list[str] = []
    bad: set[int] = set()
    for _ in range(n):
        roll = rng.random()
        if roll < 0.01:
            out.append("")
            continue
        ip = rng.choices(ips, weights_ip)[0]
        path = rng.choices(paths, weights_path)[0] + (
            f"?s={rng.randint(0, 9)}" if rng.random() < 0.2 else ""
        )
        size: int | str = "-" if rng.random() < 0.05 else rng.randint(0, 50_000)
        hour = rng.randint(0, 23)
        text = line(ip, f"{rng.randint(10, 16)}/Oct/2024:{hour:02d}:00:00 +0200",
                    f"GET {path} HTTP/1.1", rng.choice([200, 200, 304, 404]), size,
                    rng.choice(["-", "https://www.google.com/"]), rng.choice([FIREFOX, CHROME]))  # fmt: skip
        if roll > 0.98:
            text = text[: rng.randint(5, len(text) - 5)]  # truncated
            bad.add(len(out) + 1)
        out.append(text)
    return out, bad


def _parse(text: str) -> tuple[str, str, int, datetime] | None:
    """My own reading of a combined line: (ip, path without query, bytes, UTC time)."""
    try:
        ip, rest = text.split(" - - [", 1)
        when, rest = rest.split('] "', 1)
        request, rest = rest.split('" ', 1)
        status, size, _referrer_and_agent = rest.split(" ", 2)
        _method, target, _protocol = request.split(" ")
        if not (rest.endswith('"') and _referrer_and_agent.count('"') == 4 and status.isdigit()):
            return None
        stamp = datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None
    return ip, target.split("?")[0], 0 if size == "-" else int(size), stamp


def _expect_top(result: Analysis, truth: dict[str, int]) -> None:
    ranked = sorted(truth.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(r.entity, int(r.value)) for r in result.top] == ranked[: len(result.top)]
    assert len(result.top) == min(10, len(truth))
    assert int(result.total) == sum(truth.values())
    assert result.n_entities == len(truth)
    assert int(result.others.value) == sum(v for _, v in ranked[10:])


def test_independent_count_of_a_generated_log(write: Writer) -> None:
    lines, bad = _generated(seed=20241010, n=4000)
    path = write("gen.log", "\n".join(lines) + "\n")
    hits: dict[str, Counter[str]] = {"ip": Counter(), "path": Counter()}
    size: dict[str, Counter[str]] = {"ip": Counter(), "path": Counter()}
    per_day: Counter[date] = Counter()
    malformed: set[int] = set()
    for number, text in enumerate(lines, 1):
        if not text:
            continue
        parsed = _parse(text)
        if parsed is None:
            malformed.add(number)
            continue
        ip, target, n_bytes, stamp = parsed
        for dim, key in (("ip", ip), ("path", target)):
            hits[dim][key] += 1
            size[dim][key] += n_bytes
        per_day[stamp.date()] += 1
    assert malformed == bad  # my parser agrees with how the log was made
    assert len(bad) > 30
    for dim in ("ip", "path"):
        for measure, truth in (("hits", hits[dim]), ("bytes", size[dim])):
            r = traffic(str(path), by=dim, measure=measure, top=10)
            _expect_top(r, dict(truth))
            assert r.rows.rejected == len(bad)
            assert r.rows.analysed == sum(hits[dim].values())
    r = traffic(str(path), by="ip", period="day")
    assert r.periods is not None
    assert {p.period: int(p.total) for p in r.periods} == dict(per_day)
    assert sum(int(p.total) for p in r.periods) == int(r.total)
    assert r.traffic is not None
    assert r.traffic.blank_lines == lines.count("")
    examples = next(x for x in r.rows.rejected_by_reason if x.reason == "malformed_line").examples
    assert len(examples) == 5
    for e in examples:
        assert e.line in bad
        assert e.value is not None
        assert lines[e.line - 1].startswith(e.value[:20])


def test_line_numbers_stay_physical_in_a_larger_file(write: Writer) -> None:
    """Enough lines for the engine to read the file in several parallel chunks."""
    good = SAMPLE[1]
    bad_at = {7, 99_998, 150_001, 299_000}
    text = "\n".join("broken" if i in bad_at else good for i in range(1, 300_001)) + "\n"
    path = write("big.log", text)
    r = traffic(str(path), by="ip", threads=2)
    bad = next(x for x in r.rows.rejected_by_reason if x.reason == "malformed_line")
    assert bad.rows == 4
    assert {e.line for e in bad.examples} == bad_at
