"""Signed span links by hand: exactly the signed path and parameters, before expiry, with this server's secret."""

from __future__ import annotations

from api.links import LinkSigner


def test_a_signature_covers_path_parameters_and_expiry() -> None:
    signer = LinkSigner(b"s" * 32, ttl_seconds=100)
    path = "/documents/abc"
    params = signer.sign(path, {"start": 10, "end": 20}, now=1_000)
    assert params["expires"] == "1100" and len(params["sig"]) == 64
    assert signer.verify(path, params, now=1_050)
    assert not signer.verify(path, params, now=1_101)  # expired
    assert not signer.verify("/documents/abd", params, now=1_050)  # another document
    assert not signer.verify(path, {**params, "end": "21"}, now=1_050)  # another span
    assert not signer.verify(path, {**params, "page": "2"}, now=1_050)  # a parameter added
    assert not signer.verify(path, {**params, "expires": "9999"}, now=1_050)  # a longer life
    assert not signer.verify(path, {k: v for k, v in params.items() if k != "sig"}, now=1_050)
    assert not LinkSigner(b"t" * 32).verify(path, params, now=1_050)  # another server's secret
    assert not signer.verify("/search", signer.sign("/search", {"q": "x"}, now=1_000), now=1_050)  # spans only
