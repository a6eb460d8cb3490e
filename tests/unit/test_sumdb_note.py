"""Signed notes and keys (gomodproxy.sumdb.note) against the vector table written from the spec."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gomodproxy.errors import InvalidInput, VerificationError
from gomodproxy.sumdb import note

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "sumdb_note.json").read_text()
)


class TestKeys:
    @pytest.mark.parametrize("v", VECTORS["verifiers"], ids=lambda v: v["key"][:40])
    def test_verifier_key(self, v: dict[str, str]) -> None:
        """A verifier key string parses to its name and hash, or fails with Go's text."""
        if "error" in v:
            with pytest.raises(InvalidInput, match=f"^{v['error']}$"):
                note.new_verifier(v["key"])
        else:
            ver = note.new_verifier(v["key"])
            assert (ver.name, f"{ver.key_hash:08x}") == (v["name"], v["hash"])

    @pytest.mark.parametrize("v", VECTORS["signers"], ids=lambda v: v["key"][:50])
    def test_signer_key(self, v: dict[str, str]) -> None:
        """A signer key string parses and its public half is the published verifier key."""
        if "error" in v:
            with pytest.raises(InvalidInput, match=f"^{v['error']}$"):
                note.new_signer(v["key"])
        else:
            s = note.new_signer(v["key"])
            assert s.verifier().key_string() == v["vkey"]

    def test_every_mangled_verifier_key_fails(self) -> None:
        """Any truncation or single-character increment of a key string is rejected."""
        key = VECTORS["verifiers"][0]["key"]
        for i in range(len(key)):
            with pytest.raises(InvalidInput):
                note.new_verifier(key[:i])
            mangled = key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :]
            with pytest.raises(InvalidInput):
                note.new_verifier(mangled)

    def test_generate_key_round_trip(self) -> None:
        """A generated key pair signs notes the verifier accepts; the hash is recomputed."""
        skey, vkey = note.generate_key("corp.example/sumdb", bytes(range(32)))
        signer, verifier = note.new_signer(skey), note.new_verifier(vkey)
        assert signer.verifier() == verifier
        msg = note.sign(note.Note("hello\n"), [signer])
        assert note.open_note(msg, note.Verifiers([verifier])).text == "hello\n"

    def test_generate_key_rejects_bad_input(self) -> None:
        """Keys need a 32-byte seed and a name without spaces or '+'."""
        with pytest.raises(InvalidInput):
            note.generate_key("a b", bytes(32))
        with pytest.raises(InvalidInput):
            note.generate_key("ok", bytes(31))

    def test_verifier_key_from_raw_public_key(self) -> None:
        """new_ed25519_verifier_key builds the same string as the verifier."""
        v = note.new_verifier(VECTORS["verifiers"][0]["key"])
        assert note.new_ed25519_verifier_key(v.name, v.public_key) == v.key_string()
        with pytest.raises(InvalidInput, match="invalid public key size 3, expected 32"):
            note.new_ed25519_verifier_key("x", b"abc")


class TestOpen:
    @pytest.mark.parametrize("n", VECTORS["notes"], ids=lambda n: n["id"])
    def test_open(self, n: dict[str, object]) -> None:
        """Each note opens to its text and signatures, or fails with Go's error text."""
        msg = base64.b64decode(str(n["msg_b64"]))
        known = note.Verifiers(note.new_verifier(k) for k in n["keys"])  # type: ignore[attr-defined]
        if "error" in n:
            with pytest.raises((InvalidInput, VerificationError)) as info:
                note.open_note(msg, known)
            assert str(info.value) == n["error"]
        else:
            opened = note.open_note(msg, known)
            assert opened.text == n["text"]
            assert [s.name for s in opened.sigs] == n["sigs"]
            assert [s.name for s in opened.unverified_sigs] == n["unverified"]

    def test_unverified_note_carries_the_parsed_note(self) -> None:
        """A note with only unknown signatures reports them."""
        n = next(n for n in VECTORS["notes"] if n["id"] == "unknown-only")
        with pytest.raises(note.UnverifiedNoteError) as info:
            note.open_note(base64.b64decode(n["msg_b64"]), note.Verifiers())
        assert [s.name for s in info.value.note.unverified_sigs] == ["EnochRoot"]

    def test_every_flipped_bit_of_the_text_fails(self) -> None:
        """Changing any bit of the signed text breaks the signature (or the format)."""
        n = VECTORS["notes"][0]
        msg = base64.b64decode(n["msg_b64"])
        known = note.Verifiers([note.new_verifier(n["keys"][0])])
        text_len = len(n["text"].encode())
        for i in range(0, text_len, 7):
            b = bytearray(msg)
            b[i] ^= 0x04
            with pytest.raises((InvalidInput, VerificationError)):
                note.open_note(bytes(b), known)


class TestSign:
    @pytest.mark.parametrize("s", VECTORS["sign"], ids=lambda s: str(len(s["existing"])))
    def test_sign(self, s: dict[str, object]) -> None:
        """Signing is deterministic; other keys' signatures come first, our old one is dropped."""
        existing = tuple(
            note.Signature(e["name"], int(e["hash"], 16), e["base64"])
            for e in s["existing"]  # type: ignore[attr-defined]
        )
        n = note.Note(str(s["text"]), unverified_sigs=existing)
        signers = [note.new_signer(k) for k in s["signers"]]  # type: ignore[attr-defined]
        if "error" in s:
            with pytest.raises(InvalidInput, match=str(s["error"])):
                note.sign(n, signers)
        else:
            assert note.sign(n, signers).decode() == s["out"]


class TestErrors:
    def test_bad_signer_keys(self) -> None:
        """Signer keys with another algorithm or a short seed are refused with Go's texts."""
        good = VECTORS["signers"][0]["key"]
        *fields, data = good.split("+", 4)
        prefix = "+".join(fields)
        raw = base64.b64decode(data)
        other_alg = base64.b64encode(b"\x02" + raw[1:]).decode()
        short = base64.b64encode(raw[:-1]).decode()
        with pytest.raises(InvalidInput, match=r"^unknown verifier algorithm$"):
            note.new_signer(f"{prefix}+{other_alg}")
        with pytest.raises(InvalidInput, match=r"^malformed verifier id$"):
            note.new_signer(f"{prefix}+{short}")

    def test_sign_refuses_bad_signers_and_signatures(self) -> None:
        """An invalid signer name, or an existing signature that does not decode to its key
        hash, makes signing fail."""
        good = note.new_signer(VECTORS["signers"][0]["key"])
        bad_name = note.Signer("bad name", good.key_hash, good.seed)
        with pytest.raises(InvalidInput, match="malformed note"):
            note.sign(note.Note("\ud800\n"), [good])  # not UTF-8: no note can hold it
        with pytest.raises(InvalidInput, match="invalid signer"):
            note.sign(note.Note("x\n"), [bad_name])
        for sig in [
            note.Signature("Enoch", 1, "!!!!"),
            note.Signature("Enoch", 1, base64.b64encode(b"\x00\x00\x00\x02xyz").decode()),
            note.Signature("bad name", 1, base64.b64encode(b"\x00\x00\x00\x01xyz").decode()),
        ]:
            with pytest.raises(InvalidInput, match="malformed note"):
                note.sign(note.Note("x\n", unverified_sigs=(sig,)), [good])
