"""Properties of the checksum-database core (Hypothesis): proofs verify and tampered ones do
not, signed notes open and tampered ones do not, tile paths round-trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gomodproxy.errors import InvalidInput, VerificationError
from gomodproxy.sumdb import note, tlog
from gomodproxy.sumdb.tile import Tile, parse_tile_path

SKEY, VKEY = note.generate_key("prop.example", bytes(range(32)))
SIGNER = note.new_signer(SKEY)
KNOWN = note.Verifiers([note.new_verifier(VKEY)])
HASHES: list[bytes] = []
for _i in range(300):
    HASHES.extend(tlog.stored_hashes(_i, b"r%d\n" % _i, lambda ix: [HASHES[j] for j in ix]))


def read(indexes: object) -> list[bytes]:
    return [HASHES[j] for j in indexes]  # type: ignore[attr-defined]


@st.composite
def tree_and_record(draw: st.DrawFn) -> tuple[int, int]:
    t = draw(st.integers(1, 300))
    return t, draw(st.integers(0, t - 1))


@settings(max_examples=150, deadline=None)
@given(tree_and_record(), st.data())
def test_record_proofs_verify_and_tampering_fails(tn: tuple[int, int], data: st.DataObject) -> None:
    """Every record proof verifies; changing any one proof hash or the leaf breaks it."""
    t, n = tn
    th = tlog.tree_hash(t, read)
    leaf = tlog.record_hash(b"r%d\n" % n)
    proof = tlog.prove_record(t, n, read)
    tlog.check_record(proof, t, th, n, leaf)
    with pytest.raises(VerificationError):
        tlog.check_record(proof, t, th, n, tlog.record_hash(b"other\n"))
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        with pytest.raises(VerificationError):
            tlog.check_record(bad, t, th, n, leaf)


@settings(max_examples=150, deadline=None)
@given(tree_and_record())
def test_tree_proofs_verify(tn: tuple[int, int]) -> None:
    """Every older tree is proved a prefix of every newer one, and a wrong old hash fails."""
    t, n = tn[0], tn[1] + 1
    proof = tlog.prove_tree(t, n, read)
    tlog.check_tree(proof, t, tlog.tree_hash(t, read), n, tlog.tree_hash(n, read))
    with pytest.raises(VerificationError):
        tlog.check_tree(proof, t, tlog.tree_hash(t, read), n, tlog.record_hash(b"x"))


TEXT = st.lists(
    st.text(
        st.characters(min_codepoint=0x20, exclude_characters="\x7f", exclude_categories=["Cs"]),
        min_size=1,
    ),
    min_size=1,
).map(lambda lines: "".join(line + "\n" for line in lines))


@settings(max_examples=100, deadline=None)
@given(TEXT, st.data())
def test_signed_notes_open_and_tampering_fails(text: str, data: st.DataObject) -> None:
    """A signed note opens to its text; any changed byte of the text is refused."""
    msg = note.sign(note.Note(text), [SIGNER])
    assert note.open_note(msg, KNOWN).text == text
    raw = text.encode()
    i = data.draw(st.integers(0, len(raw) - 1))
    bad = bytearray(msg)
    bad[i] ^= data.draw(st.sampled_from([0x01, 0x02, 0x40]))
    with pytest.raises((InvalidInput, VerificationError)):
        note.open_note(bytes(bad), KNOWN)


@given(
    st.integers(1, 30),
    st.integers(-1, 63),
    st.integers(0, (1 << 63) - 1),
    st.data(),
)
def test_tile_paths_round_trip(h: int, level: int, n: int, data: st.DataObject) -> None:
    """Every tile's path parses back to the tile."""
    w = data.draw(st.integers(1, 1 << h))
    t = Tile(h, level, n, w)
    assert parse_tile_path(t.path()) == t
