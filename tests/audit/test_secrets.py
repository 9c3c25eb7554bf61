"""Secret detection. Test values are assembled from parts so this file itself holds no
string in a provider's format."""

from __future__ import annotations

import pytest

from deploysmith.audit import secrets
from deploysmith.audit.secrets import entropy, is_secret_name
from tests.audit.helpers import run_family

AWS = "AK" + "IA" + "Z7VRSQ2PKD3MLN4B"
GITHUB = "gh" + "p_" + "x9Kq2Lm8Zr4Tn6Vb1Yc3Hd5Jf7Gs0Wa2Ee4R"
SLACK = "xo" + "xb-" + "2048613579-4096123587-q9Z3xK7pL2mN8vR4tY6wB1cD"
GOOGLE = "AI" + "za" + "Sy9xK3mPq7Lr2Tv8Wn4Zc6Bd1Hf5Jg0Ks2E"
STRIPE = "sk" + "_live_" + "51Hx9Kq2Lm8Zr4Tn6Vb1Yc3Hd"
KEY_HEADER = "-----BEGIN " + "RSA PRIVATE KEY-----"
KEY_BODY = "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8Z1a1f0cX7Lk2Gq9Wn4YpZr3t\n"


def scan(files: dict[str, str]) -> list[tuple[str, str, int | None, int | None, str]]:
    return [(f.rule, f.path, f.line, f.column, f.message) for f in run_family("secrets", files)]


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (AWS, "an AWS access key id", "AKIA"),
        (GITHUB, "a GitHub token", "ghp_"),
        (SLACK, "a Slack token", "xoxb"),
        (GOOGLE, "a Google API key", "AIza"),
        (STRIPE, "a Stripe live secret key", "sk_l"),
    ],
)
def test_provider_formats(value: str, kind: str, shown: str) -> None:
    findings = scan({"deploy/prod.env": f"# prod\nVALUE={value}\n"})
    assert findings == [
        (
            "DS-SECRET-001",
            "deploy/prod.env",
            2,
            7,
            f"{kind} ({shown}…) is committed in this file; revoke it now, then load it from a secret store "
            "or CI secret",
        )
    ]
    assert value[4:] not in findings[0][4]


def test_private_key_needs_a_body() -> None:
    assert [f[:3] for f in scan({"k.pem": f"{KEY_HEADER}\n{KEY_BODY}-----END RSA PRIVATE KEY-----\n"})] == [
        ("DS-SECRET-001", "k.pem", 1)
    ]
    docs = f"Never commit a file that starts with `{KEY_HEADER}`.\n"
    assert scan({"README.md": docs}) == []
    assert scan({"a.md": f"{KEY_HEADER}\n...\n-----END RSA PRIVATE KEY-----\n"}) == []


@pytest.mark.parametrize(
    "line",
    [
        "AWS_ACCESS_KEY_ID=" + "AK" + "IAIOSFODNN7EXAMPLE",
        "token: " + "gh" + "p_" + "x" * 36,
        "password: ${DB_PASSWORD}",
        "password: ${{ secrets.DB_PASSWORD }}",
        "api_key: changeme",
        "secretName: prod-tls-certificate-2024",
        "password = os.environ.get('DB_PASSWORD')",
        "token = request.headers.authorization",
        "PASSWORD_MIN_LENGTH=16",
        "api_token: <your-token-here-1234567>",
        "secret: aaaaaaaaaaaaaaaaaaaa1",
    ],
)
def test_placeholders_and_references_are_not_secrets(line: str) -> None:
    assert scan({"config.yaml": line + "\n"}) == []


def test_generic_assignment_with_high_entropy() -> None:
    value = "q8Xf2LmZ0pR7vT4nK9sB"
    findings = scan({"config/settings.yaml": f'service:\n  api_token: "{value}"\n'})
    assert findings == [
        (
            "DS-SECRET-002",
            "config/settings.yaml",
            2,
            15,
            "api_token is set to a literal that looks like a real secret (q8Xf…); "
            "load it from the environment or a secret store, and rotate it if it was ever valid",
        )
    ]
    assert findings[0][4].count(value[:5]) == 0


def test_generic_does_not_repeat_a_provider_match() -> None:
    assert [f[0] for f in scan({"a.env": f"GITHUB_TOKEN={GITHUB}\n"})] == ["DS-SECRET-001"]


def test_lock_files_and_binaries_are_skipped() -> None:
    assert not secrets.applies_to("package-lock.json")
    assert not secrets.applies_to("static/logo.png")
    assert secrets.applies_to("deploy/values.yaml")


def test_names_and_entropy() -> None:
    assert is_secret_name("DB_PASSWORD")
    assert is_secret_name("stripeApiKey")
    assert not is_secret_name("DB_PASSWORD_FILE")
    assert not is_secret_name("secretKeyRef")
    assert not is_secret_name("LOG_LEVEL")
    assert entropy("aaaa") == 0
    assert entropy("abcd") == 2
