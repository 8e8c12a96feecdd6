"""shorten(): messages that fit where they appear, cut after a whole word."""

from __future__ import annotations

from leads.core.wording import shorten

SSL = (
    "HTTPSConnectionPool(host='127.0.0.1', port=38271): Max retries exceeded with url: /contoso/v2.0/.well-known/"
    "openid-configuration (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
    "certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)')))"
)


def test_short_texts_are_left_alone() -> None:
    assert shorten("timed out", 200) == "timed out"
    assert shorten("x" * 200, 200) == "x" * 200


def test_a_long_message_ends_after_a_whole_word() -> None:
    short = shorten(SSL, 200)
    assert len(short) <= 200 and short.endswith("…")
    assert SSL.startswith(short[:-1])
    assert not SSL[len(short) - 1].isalnum()  # what follows the cut is a space or a mark: no word was cut in two
    assert "SSLCertVerificationErr…" not in short


def test_one_long_word_is_cut_at_a_separator() -> None:
    url = "https://contoso.example/" + "/".join(f"segment{n}" for n in range(40))
    short = shorten(url, 100)
    assert len(short) <= 100 and short.endswith("…")
    assert url[len(short) - 1] == "/"
