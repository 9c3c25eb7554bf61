"""The security gates (issue 5, pipeline security and the scanner self-test): golden files of
each platform's security jobs and of the kit's security files, the field's judges over the
side files (actionlint, zizmor, check-jsonschema), and proof that the planted fixture is
what the gates' own rules catch (Semgrep with the kit's rule file when it is installed,
Gitleaks' documented rule for the fake key, hadolint DL3002, the advisories of the pins).

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.audit.engine import verify
from deploysmith.model import Plan, RenderedFile
from deploysmith.plan import gates
from deploysmith.render import (
    azure_pipelines,
    circleci,
    docs,
    github_actions,
    gitlab_ci,
    jenkins,
    render_kit,
    security_kit,
)
from deploysmith.render import security as sec
from tests.render.ci_cases import check_jsonschema, tool
from tests.sample_plans import STACKS, sample_plan

GOLDEN = Path(__file__).parent / "golden" / "security"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "schemastore"

PLATFORMS = ("github", "gitlab", "azure", "jenkins", "circleci")
MODULES = {
    "github": github_actions,
    "gitlab": gitlab_ci,
    "azure": azure_pipelines,
    "jenkins": jenkins,
    "circleci": circleci,
}


def _plan(ci: str, name: str = "fastapi-postgres", **requirements: Any) -> Plan:
    return sample_plan(name, ci=ci, **requirements)


def _main(ci: str, plan: Plan) -> str:
    return MODULES[ci].render(plan)[0].content


def _golden(name: str, content: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with DEPLOYSMITH_UPDATE_GOLDEN=1"
    assert content == path.read_text(encoding="utf-8")


# -- goldens: the security jobs of each platform, the kit's security files ----------------------------

_SECURITY_JOB = re.compile(r"security|sast|secrets|selftest|dependency-review|sign|scan")


def _security_part(ci: str, text: str) -> str:
    """The jobs/stages of the main pipeline that the security gates own, as YAML (Groovy for
    Jenkins: its Security Scan stages and the signature stages)."""
    if ci == "jenkins":
        lines = text.splitlines()
        picked: list[str] = []
        for index, line in enumerate(lines):
            if re.match(r"\s*stage\('(Security Scan|.*\(signatures\))", line):
                depth = len(line) - len(line.lstrip())
                end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith(" " * depth + "}"))
                picked.extend(lines[index : end + 1])
        return "\n".join(picked) + "\n"
    data = yaml.safe_load(text)
    if ci == "azure":
        part: Any = [s for s in data["stages"] if s["stage"] == "SecurityScan"]
    elif ci == "circleci":
        part = {name: job for name, job in data["jobs"].items() if _SECURITY_JOB.search(name)}
        part["workflows"] = data["workflows"]["security-schedule"]
    else:
        jobs = data["jobs"] if ci == "github" else data
        part = {name: job for name, job in jobs.items() if isinstance(job, dict) and _SECURITY_JOB.search(name)}
    return yaml.safe_dump(part, sort_keys=False, width=120)


@pytest.mark.parametrize("ci", PLATFORMS)
def test_golden_security_jobs(ci: str) -> None:
    _golden(f"{ci}-jobs.yml" if ci != "jenkins" else "jenkins-stages.groovy", _security_part(ci, _main(ci, _plan(ci))))


@pytest.mark.parametrize(
    ("case", "plan"),
    [
        ("github-fastapi-postgres", ("github", "fastapi-postgres")),
        ("gitlab-monorepo", ("gitlab", "monorepo")),
        ("azure-spring-boot-maven", ("azure", "spring-boot-maven")),
        ("jenkins-go-api", ("jenkins", "go-api")),
    ],
)
def test_golden_kit_files(case: str, plan: tuple[str, str]) -> None:
    files = security_kit.render(_plan(plan[0], plan[1]))
    _golden(f"kit-{case}.txt", "".join(f"==> {f.path} <==\n{f.content}" for f in files))


def test_rendering_is_deterministic() -> None:
    plan = _plan("github", "monorepo", fail_on="medium")
    assert security_kit.render(plan) == security_kit.render(plan)


# -- the policy: fail_on, the plan's words, DEPLOYMENT.md ------------------------------------------------


@pytest.mark.parametrize(
    ("fail_on", "trivy", "semgrep", "review"),
    [
        ("critical", "CRITICAL", ["ERROR"], "critical"),
        ("high", "CRITICAL,HIGH", ["ERROR"], "high"),
        ("medium", "CRITICAL,HIGH,MEDIUM", ["ERROR", "WARNING"], "moderate"),
    ],
)
def test_fail_on_sets_every_gate(fail_on: str, trivy: str, semgrep: list[str], review: str) -> None:
    plan = _plan("github", "express", fail_on=fail_on)
    jobs = yaml.safe_load(_main("github", plan))["jobs"]
    gate = next(s for s in jobs["security-scan"]["steps"] if s["name"].startswith("Block on"))
    assert gate["with"]["severity"] == trivy and gate["with"]["exit-code"] == "1"
    image = next(s for s in jobs["package"]["steps"] if s["name"].startswith("Scan express image"))
    assert image["with"]["severity"] == trivy
    semgrep_run = jobs["sast"]["steps"][1]["run"]
    assert re.findall(r"--severity (\w+)", semgrep_run) == semgrep and "--error" in semgrep_run
    review_step = jobs["dependency-review"]["steps"][0]
    assert review_step["with"]["fail-on-severity"] == review
    npm = next(s for s in jobs["build"]["steps"] if s["name"].startswith("Audit dependencies"))
    assert f"--audit-level={review}" in npm["run"]
    for ci in ("gitlab", "azure", "jenkins", "circleci"):
        text = _main(ci, _plan(ci, "express", fail_on=fail_on))
        assert f"--severity {trivy} --ignore-unfixed --exit-code 1" in text, ci


def test_plan_and_deployment_md_state_what_is_blocked() -> None:
    plan = _plan("jenkins", "express", fail_on="medium")
    decisions = {d.topic: d for d in plan.decisions}
    for gate in ("SAST", "Dependencies", "Secrets", "Container", "Signing", "Self-test"):
        assert decisions[f"security {gate}"].choice == "blocks at fail_on medium"
    assert "CRITICAL, HIGH, MEDIUM" in decisions["security Container"].reason
    assert "Jenkins has no OIDC identity" in decisions["security Signing"].reason
    deployment = next(f for f in docs.render(plan) if f.path.endswith("DEPLOYMENT.md")).content
    assert "## Security gates" in deployment
    assert "`fail_on: medium` (severities CRITICAL,HIGH,MEDIUM" in deployment
    for gate, what in gates.security_policy(plan.requirements):
        assert f"| {gate} | {what.replace('|', '/')} |" in deployment


@pytest.mark.parametrize("ci", PLATFORMS)
def test_main_scans_skip_the_fixture_and_deploys_verify_first(ci: str) -> None:
    plan = _plan(ci, "express")
    text = _main(ci, plan)
    assert f"--exclude {sec.SELFTEST_DIR}" in text
    assert f"skip-dirs: {sec.SELFTEST_DIR}" in text or f"--skip-dirs {sec.SELFTEST_DIR}" in text
    assert f"--config {sec.GITLEAKS_CONFIG}" in text
    gitleaks = next(f for f in security_kit.render(plan) if f.path == sec.GITLEAKS_CONFIG).content
    assert f"paths = ['''^{sec.SELFTEST_DIR}/''']" in gitleaks
    # Every deploy verifies signature and attestations before the first deploy command.
    verify_at = text.index("verify-attestation --type vuln")
    assert verify_at < text.index("kustomize edit set image")
    assert "cosign sign --yes" in text or ":v2.5.0 sign --yes" in text
    for predicate in ("spdxjson", "cyclonedx", "vuln"):
        assert "attest --yes" in text and f"--type {predicate}" in text
    assert "set -x" not in text


def test_only_signing_jobs_get_an_id_token_for_sigstore() -> None:
    jobs = yaml.safe_load(_main("github", _plan("github", "express")))["jobs"]
    assert jobs["package"]["permissions"]["id-token"] == "write"
    assert "id-token" not in jobs["security-scan"]["permissions"]
    assert "id-token" not in jobs["sast"]["permissions"]
    gitlab = yaml.safe_load(_main("gitlab", _plan("gitlab", "express")))
    with_sigstore = [
        name
        for name, job in gitlab.items()
        if isinstance(job, dict) and "SIGSTORE_ID_TOKEN" in str(job.get("id_tokens", ""))
    ]
    assert with_sigstore == ["package-sign"]


# -- side files: the field's judges -------------------------------------------------------------------


@pytest.fixture(scope="module")
def github_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("security-github")
    for name in STACKS:
        for fail_on in ("high", "medium"):
            plan = _plan("github", name, fail_on=fail_on)
            for f in security_kit.render(plan):
                if f.path.startswith(".github/workflows/"):
                    target = root / ".github/workflows" / f"{name}-{fail_on}-{f.path.rsplit('/', 1)[1]}"
                elif f.path == sec.DEPENDABOT_PATH:
                    target = root / "dependabot" / f"{name}-{fail_on}.yml"
                else:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(f.content, encoding="utf-8")
    return root


@pytest.mark.judges
def test_side_workflows_pass_actionlint_and_zizmor(github_repo: Path) -> None:
    workflows = sorted(str(p.relative_to(github_repo)) for p in (github_repo / ".github/workflows").iterdir())
    result = subprocess.run(
        [tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), *workflows],
        capture_output=True,
        text=True,
        cwd=github_repo,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--no-progress", "--format", "json", ".github/workflows"],
        capture_output=True,
        text=True,
        cwd=github_repo,
        check=False,
    )
    assert json.loads(result.stdout) == [], result.stdout[-3000:]


@pytest.mark.judges
def test_dependabot_config_is_valid_and_zizmor_clean(github_repo: Path, tmp_path: Path) -> None:
    schema = SHARED / "dependabot-2.0.json"
    if not schema.exists():
        pytest.skip(f"{schema} is not beside this checkout")
    files = sorted((github_repo / "dependabot").iterdir())
    result = subprocess.run(
        [tool("check-jsonschema"), "--schemafile", str(schema), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (tmp_path / ".github").mkdir()
    shutil.copy(files[0], tmp_path / ".github" / "dependabot.yml")
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--no-progress", "--format", "json", "."],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert json.loads(result.stdout) == [], result.stdout


def test_dependabot_covers_every_ecosystem_actions_and_base_images() -> None:
    config = yaml.safe_load(security_kit.dependabot(_plan("github", "monorepo")))
    assert [(u["package-ecosystem"], u["directory"]) for u in config["updates"]] == [
        ("github-actions", "/"),
        ("npm", "/apps/web"),
        ("pip", "/services/api"),
        ("docker", "/apps/web"),
        ("docker", "/services/api"),
    ]
    renovate = json.loads(security_kit.renovate(_plan("gitlab", "monorepo")))
    assert renovate["enabledManagers"] == sorted(
        ["npm", "pep621", "pip_requirements", "poetry", "pipenv", "dockerfile", "gitlabci"]
    )
    assert renovate["ignorePaths"] == [f"{sec.SELFTEST_DIR}/**"]


@pytest.mark.judges
def test_azure_schedule_pipeline_schema(tmp_path: Path) -> None:
    path = tmp_path / "azure-pipelines.security.yml"
    path.write_text(
        next(f for f in security_kit.render(_plan("azure")) if f.path == sec.AZURE_SCHEDULE_PATH).content,
        encoding="utf-8",
    )
    result = check_jsonschema("vendor.azure-pipelines", [path], "--regex-variant", "python")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.judges
def test_gitleaks_config_schema(tmp_path: Path) -> None:
    schema = SHARED / "gitleaks.json"
    if not schema.exists():
        pytest.skip(f"{schema} is not beside this checkout")
    import tomllib

    text = next(f for f in security_kit.render(_plan("github")) if f.path == sec.GITLEAKS_CONFIG).content
    path = tmp_path / "gitleaks.json"
    path.write_text(json.dumps(tomllib.loads(text)), encoding="utf-8")
    result = subprocess.run(
        [tool("check-jsonschema"), "--schemafile", str(schema), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("ci", PLATFORMS)
def test_kit_passes_deploysmith_audit(ci: str) -> None:
    """The fixture is planted on purpose: the kit's own audit must not refuse the kit for it."""
    for name in ("express", "django-celery"):
        files = render_kit(_plan(ci, name))
        selftest = [f for f in verify(files) if f.path.startswith(sec.SELFTEST_DIR) or "security" in f.path]
        assert selftest == [], [f.to_json() for f in selftest]


# -- the accepted-findings check --------------------------------------------------------------------------


def _awk(text: str, tmp_path: Path, today: str = "2026-11-22") -> subprocess.CompletedProcess[str]:
    program = tmp_path / "check.awk"
    program.write_text(security_kit.IGNORE_CHECK_AWK, encoding="utf-8")
    target = tmp_path / ".trivyignore.yaml"
    target.write_text(text, encoding="utf-8")
    awk = shutil.which("awk")
    if awk is None:
        pytest.skip("no awk")
    return subprocess.run(
        [awk, "-v", f"today={today}", "-f", str(program), str(target)], capture_output=True, text=True, check=False
    )


def test_ignore_check_accepts_the_generated_file(tmp_path: Path) -> None:
    kit = security_kit.render(_plan("github"))
    result = _awk(next(f for f in kit if f.path == sec.TRIVYIGNORE).content, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "0 accepted finding(s)" in result.stdout


def test_ignore_check_refuses_missing_reason_expiry_and_expired(tmp_path: Path) -> None:
    text = (
        "vulnerabilities:\n"
        '  - id: CVE-2026-0001\n    statement: "not reachable"\n    expired_at: 2027-01-31\n'
        "  - id: CVE-2026-0002\n    expired_at: 2027-01-31\n"
        "  - id: CVE-2026-0003\n    statement: reviewed\n"
        "  - id: CVE-2026-0004\n    statement: old\n    expired_at: 2026-11-21\n"
        "  - id: CVE-2026-0005\n    statement: typo\n    expired_at: soon\n"
    )
    result = _awk(text, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path}/.trivyignore.yaml:5: CVE-2026-0002 has no statement (the reason it is accepted)",
        f"{tmp_path}/.trivyignore.yaml:7: CVE-2026-0003 has no expired_at (YYYY-MM-DD)",
        f"{tmp_path}/.trivyignore.yaml:9: CVE-2026-0004 expired on 2026-11-21: fix it, or accept it again with a "
        "new reason and date",
        f"{tmp_path}/.trivyignore.yaml:12: CVE-2026-0005 expired_at is not a YYYY-MM-DD date: soon",
    ]
    ok = _awk(text.split("  - id: CVE-2026-0002")[0], tmp_path)
    assert ok.returncode == 0, ok.stdout


def test_the_planted_ignore_file_is_refused(tmp_path: Path) -> None:
    assert _awk(security_kit.SELFTEST_EXPIRED_IGNORE, tmp_path).returncode == 1


# -- the planted fixture is what the gates' rules catch ------------------------------------------------


def _fixture(ci: str = "github", name: str = "monorepo") -> dict[str, str]:
    return {f.path: f.content for f in security_kit.render(_plan(ci, name)) if f.path.startswith(sec.SELFTEST_DIR)}


# Gitleaks' aws-access-token rule (config/gitleaks.toml of gitleaks v8): regex, entropy, allowlist.
GITLEAKS_AWS = re.compile(r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b")
GITLEAKS_AWS_ENTROPY = 3.0
GITLEAKS_AWS_ALLOW = re.compile(r".+EXAMPLE$")
GITLEAKS_STOPWORDS = ("014df517-39d1-4453-b7b3-9930c563627c", "abcdefghijklmnopqrstuvwxyz")


def _shannon(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def test_fake_credential_matches_gitleaks_default_rule() -> None:
    text = _fixture()[f"{sec.SELFTEST_DIR}/credentials.env"]
    secrets = [m.group(1) for m in GITLEAKS_AWS.finditer(text)]
    assert secrets == [sec.FAKE_AWS_KEY_ID]
    (secret,) = secrets
    assert _shannon(secret) >= GITLEAKS_AWS_ENTROPY
    assert not GITLEAKS_AWS_ALLOW.match(secret)
    assert not any(word in secret.lower() for word in GITLEAKS_STOPWORDS)
    assert "FAKE" in secret  # obviously not a real key


def test_gitleaks_finds_the_fake_credential_when_installed(tmp_path: Path) -> None:
    gitleaks = shutil.which("gitleaks")
    if gitleaks is None:
        pytest.skip("gitleaks is not installed (no offline package): the rule check above stands in")
    (tmp_path / "credentials.env").write_text(_fixture()[f"{sec.SELFTEST_DIR}/credentials.env"], encoding="utf-8")
    result = subprocess.run([gitleaks, "dir", "--no-banner", "--exit-code", "1", str(tmp_path)], check=False)
    assert result.returncode == 1


def test_own_audit_does_not_flag_the_planted_credential() -> None:
    files = tuple(RenderedFile(path, text) for path, text in _fixture().items())
    assert [f for f in verify(files) if f.rule.startswith("DS-SECRET")] == []


def test_root_dockerfile_fails_hadolint_dl3002(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed")
    path = tmp_path / "root.Dockerfile"
    path.write_text(_fixture()[f"{sec.SELFTEST_DIR}/root.Dockerfile"], encoding="utf-8")
    result = subprocess.run([hadolint, "-f", "json", str(path)], capture_output=True, text=True, check=False)
    assert "DL3002" in {finding["code"] for finding in json.loads(result.stdout)}


def _semgrep() -> str:
    found = shutil.which("semgrep") or os.environ.get("DEPLOYSMITH_SEMGREP")
    if not found or not Path(found).exists():
        pytest.skip("semgrep is not installed (.ci/run installs it from PyPI)")
    return found


@pytest.mark.judges
def test_semgrep_rules_catch_the_root_dockerfile_and_not_the_kit(tmp_path: Path) -> None:
    semgrep = _semgrep()
    kit = {f.path: f.content for f in render_kit(_plan("github", "express"))}
    for path, text in kit.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    env = {**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
    command = [
        semgrep,
        "scan",
        "--config",
        sec.SEMGREP_RULES,
        "--metrics",
        "off",
        "--disable-version-check",
        "--severity",
        "ERROR",
        "--error",
        "--json",
    ]
    fixture = subprocess.run(
        [*command, sec.SELFTEST_DIR], capture_output=True, text=True, cwd=tmp_path, env=env, check=False
    )
    assert fixture.returncode == 1, fixture.stderr[-2000:]
    found = {(r["path"], r["check_id"].rsplit(".", 1)[-1]) for r in json.loads(fixture.stdout)["results"]}
    assert (f"{sec.SELFTEST_DIR}/root.Dockerfile", "dockerfile-runs-as-root") in found
    main = subprocess.run(
        [*command, "--exclude", sec.SELFTEST_DIR, "."],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert main.returncode == 0, main.stdout[-2000:]


@pytest.mark.parametrize("family", sorted(sec.VULNERABLE_PINS))
def test_each_vulnerable_pin_cites_its_advisory(family: str) -> None:
    pin = sec.VULNERABLE_PINS[family]
    assert re.fullmatch(r"CVE-\d{4}-\d{4,}", pin.cve) and re.fullmatch(r"GHSA(-[2-9cfghjmpqrvwx]{4}){3}", pin.ghsa)
    assert pin.version != pin.fixed
    stack = {"python": "fastapi-postgres", "node": "express", "go": "go-api", "jvm": "spring-boot-maven"}
    plan_name = stack.get(family)
    files = _fixture("github", plan_name) if plan_name else None
    if files is None:  # no sample stack of this family: render the pin file directly
        text = security_kit._PIN_FILES[family](pin)
        readme = security_kit._selftest_readme((family,))
    else:
        text = files[f"{sec.SELFTEST_DIR}/{pin.path}"]
        readme = files[f"{sec.SELFTEST_DIR}/README.md"]
    assert pin.package.split(":")[-1] in text and pin.version in text
    assert f"{pin.cve} ({pin.ghsa}, critical; fixed in {pin.fixed})" in readme
    if family not in ("node", "ruby", "dotnet"):  # formats with comments cite it in the file too
        assert pin.cve in text and pin.ghsa in text


def test_fixture_plants_one_pin_per_ecosystem_of_the_stack() -> None:
    paths = sorted(p.removeprefix(sec.SELFTEST_DIR + "/") for p in _fixture("github", "monorepo"))
    assert paths == [
        "README.md",
        "credentials.env",
        "expired.trivyignore.yaml",
        "node/package-lock.json",
        "python/requirements.txt",
        "root.Dockerfile",
    ]


@pytest.mark.parametrize("ci", PLATFORMS)
def test_selftest_runs_every_gate_expecting_it_to_block(ci: str) -> None:
    plan = _plan(ci, "express")
    texts = [_main(ci, plan), *(f.content for f in security_kit.render(plan))]
    text = "\n".join(texts)
    for gate in sec.SELFTEST_GATES:
        assert f"expect_block {gate} " in text, gate
    assert 'if "$@"; then' in text and "broken=1" in text
