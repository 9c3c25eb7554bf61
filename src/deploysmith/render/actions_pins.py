"""The GitHub Actions that generated workflows use, each pinned to the full commit SHA of its
newest release tag.

A tag can be moved by whoever controls the action's repository; a commit SHA cannot. The
workflow names the tag in a comment (`uses: owner/repo@<sha> # v1.2.3`) so a reviewer sees
the version and Dependabot or Renovate can bump the pin.

The table was read from each action repository's own tags (snapshots up to 2026-08) and
checked on PINS_CHECKED; it is not live. Regenerating a kit with a newer deploysmith brings
newer pins.
"""

from __future__ import annotations

from dataclasses import dataclass

PINS_CHECKED = "2026-11-22"


@dataclass(frozen=True)
class Pin:
    tag: str  # the release tag the SHA belongs to (a branch name for dtolnay/rust-toolchain)
    sha: str  # full 40-hex commit SHA


PINS: dict[str, Pin] = {
    "actions/checkout": Pin("v7.0.1", "3d3c42e5aac5ba805825da76410c181273ba90b1"),
    "actions/setup-python": Pin("v7.0.0", "5fda3b95a4ea91299a34e894583c3862153e4b97"),
    "actions/setup-node": Pin("v7.0.0", "820762786026740c76f36085b0efc47a31fe5020"),
    "actions/setup-go": Pin("v7.0.0", "b7ad1dad31e06c5925ef5d2fc7ad053ef454303e"),
    "actions/setup-java": Pin("v5.7.0", "b6effb05e454b25005698d916606bdc6ffcbf961"),
    "actions/setup-dotnet": Pin("v6.0.0", "a98b56852c35b8e3190ac28c8c2271da59106c68"),
    "actions/cache": Pin("v5.0.5", "27d5ce7f107fe9357f9df03efb73ab90386fccae"),
    "actions/upload-artifact": Pin("v7.0.0", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f"),
    "docker/setup-buildx-action": Pin("v4.3.0", "37fe631027851001ddb9b187196cc803df7f5f0e"),
    "docker/login-action": Pin("v4.1.0", "4907a6ddec9925e35a0a9e82d7399ccc52663121"),
    "docker/build-push-action": Pin("v7.3.0", "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a"),
    "aquasecurity/trivy-action": Pin("v0.36.0", "ed142fd0673e97e23eac54620cfb913e5ce36c25"),
    # The root action is a stub; workflows use sub-actions (github/codeql-action/upload-sarif).
    "github/codeql-action": Pin("v4.36.2", "8aad20d150bbac5944a9f9d289da16a4b0d87c1e"),
    # The root action is a stub; workflows use gradle/actions/setup-gradle.
    "gradle/actions": Pin("v6.3.0", "9c971963bec38e04b3d30dcc455b5382be2fdbfb"),
    "ruby/setup-ruby": Pin("v1.315.0", "0dafeac902942906541bc140009cdbf32665b601"),
    "shivammathur/setup-php": Pin("2.37.2", "f3e473d116dcccaddc5834248c87452386958240"),
    # No release tags: the toolchain is chosen by input; this is the head of branch `stable`.
    "dtolnay/rust-toolchain": Pin("stable", "29eef336d9b2848a0b548edc03f92a220660cdb8"),
    "oven-sh/setup-bun": Pin("v2.2.0", "0c5077e51419868618aeaa5fe8019c62421857d6"),
    # Only for Node.js 25+, which no longer bundles corepack. Older snapshot (2025-01): re-check.
    "pnpm/action-setup": Pin("v4.0.0", "fe02b34f77f8bc703788d5817da081398fad5dd2"),
    # Cloud sign-in for the non-Kubernetes targets (render/targets/login.py).
    "aws-actions/configure-aws-credentials": Pin("v6.2.3", "e6de054238d6b7531b4efff3b6587d9aade6a06c"),
    "google-github-actions/auth": Pin("v3.0.0", "7c6bc770dae815cd3e89ee6cdf493a5fab2cc093"),
    "google-github-actions/setup-gcloud": Pin("v3.0.1", "aa5489c8933f4cc7a4f7d45035b3b1440c9c10db"),
    "azure/login": Pin("v3.0.1", "f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca"),
    "superfly/flyctl-actions": Pin("1.6", "ed8efb33836e8b2096c7fd3ba1c8afe303ebbff1"),
    # Security gates (render/security_github.py): dependency review on pull requests, Cosign.
    # dependency-review-action's moving v4 is a branch; the pin is the release tag's commit.
    "actions/dependency-review-action": Pin("v4.9.0", "2031cfc080254a8a887f58cffee85186f0e49e48"),
    "sigstore/cosign-installer": Pin("v4.1.2", "6f9f17788090df1f26f669e9d70d6ae9567deba6"),
}


def uses(action: str) -> str:
    """`owner/repo[/sub]@<sha>` for an action in the table (sub-actions share the repo's pin)."""
    owner, repo = action.split("/")[:2]
    pin = PINS[f"{owner}/{repo}"]
    return f"{action}@{pin.sha}"


def tag_of(uses_value: str) -> str | None:
    """The tag a pinned `uses:` value stands for, or None when it is not from the table."""
    action, _, sha = uses_value.partition("@")
    owner_repo = "/".join(action.split("/")[:2])
    pin = PINS.get(owner_repo)
    if pin is None or pin.sha != sha:
        return None
    return pin.tag
