"""A service's words, made fit for an error: what the lead typed goes, what helps the operator stays."""

from __future__ import annotations

from leads.core.service_text import service_code, service_words, without_values


def test_values_sent_are_taken_out_whatever_their_case() -> None:
    said = "The value 'Ada Lovelace' of lastname is invalid for LOVELACE and lovelace"
    assert without_values(said, ["Lovelace", "Ada Lovelace", "x"]) == (
        "The value '[redacted]' of lastname is invalid for [redacted] and [redacted]"
    )


def test_addresses_phone_numbers_and_quoted_text_go_codes_stay() -> None:
    said = (
        '550 5.7.1 Message from "Ada Lovelace" <ada@contoso.example> to +44 20 7946 0000 (or (206) 555-0100) '
        "refused, 0x80040217 at 09:15, request 'x' by bob@fabrikam.example"
    )
    assert service_words(said) == (
        "550 5.7.1 Message from '[redacted]' '[redacted]' to [redacted] (or [redacted]) refused, 0x80040217 at "
        "09:15, request '[redacted]' by <address>"
    )


def test_an_error_code_is_kept_only_when_it_looks_like_one() -> None:
    assert service_code("0x80040217") == "0x80040217" and service_code("ErrorAccessDenied") == "ErrorAccessDenied"
    assert service_code("Ada Lovelace <ada@contoso.example>") == ""
