"""Physical line numbers of CSV records, against a character-by-character reference."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topshare.lines import record_lines


def reference(text: str, header: bool, skipped: set[int]) -> dict[int, int]:
    """Record number -> starting line, one character at a time (quotes toggle; blank lines are
    not records; records starting on a skipped line are not counted)."""
    out: dict[int, int] = {}
    line, start_line, in_quote, body = 1, 1, False, ""
    seen, header_left = 0, header

    def close() -> None:
        nonlocal seen, header_left
        if body.rstrip("\r") == "":
            return
        if header_left:
            header_left = False
            return
        if start_line in skipped:
            return
        seen += 1
        out[seen] = start_line

    for ch in text:
        if ch == '"':
            in_quote = not in_quote
        if ch == "\n" and not in_quote:
            close()
            line += 1
            start_line, body = line, ""
            continue
        if ch == "\n":
            line += 1
        body += ch
    close()
    return out


FIELD = st.one_of(
    st.text(alphabet="ab1 ", max_size=4),
    st.text(alphabet='ab\n,"', max_size=5).map(lambda s: '"' + s.replace('"', '""') + '"'),
)
RECORD = st.lists(FIELD, min_size=1, max_size=3).map(",".join)
LINE_END = st.sampled_from(["\n", "\r\n", "\n\n", "\n\r\n"])


@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(st.tuples(RECORD, LINE_END), min_size=1, max_size=25),
    header=st.booleans(),
    chunk=st.integers(min_value=1, max_value=40),
    final_newline=st.booleans(),
    skip_pick=st.integers(min_value=0, max_value=5),
)
def test_matches_reference(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[tuple[str, str]],
    header: bool,
    chunk: int,
    final_newline: bool,
    skip_pick: int,
) -> None:
    text = "".join(r + e for r, e in records)
    if not final_newline:
        text = text.rstrip("\r\n")
    ref_all = reference(text, header, set())
    skipped = {ref_all[k] for k in list(ref_all)[skip_pick::7]} if ref_all else set()
    ref = reference(text, header, skipped)
    path = tmp_path_factory.mktemp("lines") / "f.csv"
    path.write_bytes(text.encode())
    got = record_lines(str(path), ref, header=header, skipped_lines=skipped, chunk_size=chunk)
    assert got == ref


def test_blank_lines_quoted_breaks_and_gzip(tmp_path: Path) -> None:
    text = 'customer,amount\na,1\n\nb,2\n\n"c\nd",3\ne,x\n'
    # records: a (line 2), b (line 4), "c\nd" (line 6), e (line 8)
    plain = tmp_path / "f.csv"
    plain.write_text(text)
    packed = tmp_path / "f.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        assert record_lines(str(path), [1, 2, 3, 4], header=True) == {1: 2, 2: 4, 3: 6, 4: 8}
    assert record_lines(str(plain), [3], header=True, skipped_lines=[4]) == {3: 8}
