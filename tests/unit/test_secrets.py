"""opendrs.domain.secrets: secrets split out of submitted documents, and the redaction of answers."""

from __future__ import annotations

from typing import Any

import pytest

from opendrs.domain.secrets import is_secret_key, redact, split


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("db_password", True),
        ("ssl_cert_password", True),
        ("DB_PASSWORD", True),
        ("Password", True),
        ("db_user", False),
        ("pass", False),
        ("pwd", False),
        ("", False),
    ],
)
def test_is_secret_key(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_split_nested_dicts_and_lists() -> None:
    document: dict[str, Any] = {
        "name": "job-1",
        "source_endpoint": {"db_user": "root", "db_password": "s3cret", "ip": "10.0.0.1"},
        "target_endpoint": [
            {"endpoint": {"db_user": "admin", "db_password": "t4rget"}},
            {"endpoint": {"db_user": "other"}},
        ],
        "user_migration": {"users": [{"name": "u1", "password": "p1"}, {"name": "u2", "password": "p2"}]},
        "count": 3,
    }
    clean, found = split(document)
    assert clean == {
        "name": "job-1",
        "source_endpoint": {"db_user": "root", "ip": "10.0.0.1"},
        "target_endpoint": [{"endpoint": {"db_user": "admin"}}, {"endpoint": {"db_user": "other"}}],
        "user_migration": {"users": [{"name": "u1"}, {"name": "u2"}]},
        "count": 3,
    }
    assert found == {
        "source_endpoint.db_password": "s3cret",
        "target_endpoint[0].endpoint.db_password": "t4rget",
        "user_migration.users[0].password": "p1",
        "user_migration.users[1].password": "p2",
    }
    # The input is not modified.
    assert document["source_endpoint"]["db_password"] == "s3cret"


def test_split_a_top_level_list() -> None:
    clean, found = split([{"db_password": "x"}, {"db_password": "y", "a": 1}, "plain"])
    assert clean == [{}, {"a": 1}, "plain"]
    assert found == {"[0].db_password": "x", "[1].db_password": "y"}


def test_split_with_a_path_prefix() -> None:
    assert split({"db_password": "x"}, "jobs[2]") == ({}, {"jobs[2].db_password": "x"})


def test_empty_passwords_are_dropped_not_kept() -> None:
    clean, found = split({"source_endpoint": {"db_password": "", "db_user": "root"}, "password": ""})
    assert clean == {"source_endpoint": {"db_user": "root"}}
    assert found == {}


@pytest.mark.parametrize("document", [None, 3, "text", True, [], {}])
def test_split_of_documents_without_secrets(document: Any) -> None:
    assert split(document) == (document, {})


def test_split_keeps_a_document_without_secrets_intact() -> None:
    document = {"a": [1, {"b": [2, 3]}], "c": {"d": None}}
    assert split(document) == (document, {})


def test_no_secret_survives_split() -> None:
    """Whatever the value under a secret-named key, the clean document keeps none of it (module docstring)."""
    clean, found = split({"endpoint": {"ssl_cert_password": 123456, "db_user": "root"}})
    assert clean == {"endpoint": {"db_user": "root"}}
    assert found == {"endpoint.ssl_cert_password": "123456"}


def test_a_secret_in_a_list_or_an_object_is_split_out_whole() -> None:
    # Recursing into ["s3cret"] found no secret-named key below it: the password was stored in plain text.
    clean, found = split({"source_endpoint": {"ssl_cert_password": ["s3cret"]}, "sasl_password": {"v": "pw"}})
    assert clean == {"source_endpoint": {}}
    assert found == {"source_endpoint.ssl_cert_password": '["s3cret"]', "sasl_password": '{"v": "pw"}'}


def test_redact_nested_dicts_and_lists() -> None:
    document = {
        "id": "x",
        "source_endpoint": {"db_password": "s3cret", "db_user": "root"},
        "jobs": [{"password": "p", "name": "n"}, [{"DB_PASSWORD": "q"}], "plain"],
        "ssl_cert_password": {"nested": "whole subtree goes"},
    }
    assert redact(document) == {
        "id": "x",
        "source_endpoint": {"db_user": "root"},
        "jobs": [{"name": "n"}, [{}], "plain"],
    }


@pytest.mark.parametrize("document", [None, 1, "db_password", ["password"], {"a": {"b": "c"}}])
def test_redact_leaves_everything_else(document: Any) -> None:
    assert redact(document) == document


def test_redact_empty_and_none_passwords_too() -> None:
    assert redact({"db_password": "", "password": None, "x": 1}) == {"x": 1}
