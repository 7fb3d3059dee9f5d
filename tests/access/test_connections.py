"""The configuration flow's rules, below the edges: where a code may go, and its setting."""

from __future__ import annotations

import pytest

from connector.access.connections import check_return_url
from connector.config import ConfigError, load_settings
from connector.errors import Code, ValidationError

DEFAULT_HOSTS = load_settings({"CONNECTOR_INSTANCE_PATH": "/tmp/x"}).onboarding_return_hosts


@pytest.mark.parametrize(
    "url",
    [
        "https://mystore.myvtex.com/admin/provider-return?authorizationCode=",
        "https://mystore.vtexpayments.com.br/?authorizationCode=",
        "https://myvtex.com/?a=1&authorizationCode=",
        "http://localhost:3000/return?authorizationCode=",
        "http://127.0.0.1/return?authorizationCode=",
    ],
)
def test_a_code_may_go_to_the_platform_or_to_this_machine(url: str) -> None:
    assert check_return_url(url, DEFAULT_HOSTS) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://mystore.myvtex.com/?authorizationCode=",
        "https://evilmyvtex.com/?authorizationCode=",
        "https://mystore.myvtex.com.evil.example/?authorizationCode=",
        "ftp://mystore.myvtex.com/?authorizationCode=",
        "https:///?authorizationCode=",
        "//mystore.myvtex.com/?authorizationCode=",
        "https://mystore.myvtex.com/?authorizationCode=x",
        "https://mystore.myvtex.com/authorizationCode=",
        "https://mystore.myvtex.com@evil.example/?authorizationCode=",
        "https://[::1]/?authorizationCode=",
    ],
)
def test_a_code_never_goes_anywhere_else(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_return_url(url, DEFAULT_HOSTS)
    assert refused.value.code == Code.RETURN_URL_NOT_ALLOWED
    assert "returnUrl" in refused.value.fields


def test_the_return_hosts_setting() -> None:
    assert DEFAULT_HOSTS == (
        ".myvtex.com",
        ".vtexcommercestable.com.br",
        ".vtexpayments.com.br",
        "localhost",
        "127.0.0.1",
    )
    narrowed = load_settings(
        {
            "CONNECTOR_INSTANCE_PATH": "/tmp/x",
            "CONNECTOR_ONBOARDING_RETURN_HOSTS": " MyStore.myvtex.com , admin.store.example",
        }
    )
    assert narrowed.onboarding_return_hosts == ("mystore.myvtex.com", "admin.store.example")
    with pytest.raises(ConfigError, match="CONNECTOR_ONBOARDING_RETURN_HOSTS: 'https://x' is not"):
        load_settings(
            {"CONNECTOR_INSTANCE_PATH": "/tmp/x", "CONNECTOR_ONBOARDING_RETURN_HOSTS": "https://x"}
        )
