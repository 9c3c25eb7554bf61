                stage('Security Scan') {
                    agent {
                        label 'docker'
                    }
                    options {
                        timeout(time: 20, unit: 'MINUTES')
                    }
                    steps {
                        sh(label: 'Security gates (block on critical,high)', script: '''#!/usr/bin/env bash
set -euo pipefail
failed=''
# Gate: accepted findings
if ! (
  # Every entry of .trivyignore.yaml needs a statement and an expired_at that has not passed
  awk -v today="$(date -u +%Y-%m-%d)" -f security/check-trivyignore.awk .trivyignore.yaml
); then failed="${failed} accepted findings;"; fi
# Gate: dependencies and secrets (Trivy)
if ! (
  # Every severity, as a report for review (dependencies from the lock files, secrets in the tree)
  docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src aquasec/trivy:0.68.1 fs --scanners vuln,secret --skip-dirs security/selftest --ignorefile .trivyignore.yaml --format json --output trivy-fs.json .
  # The gate: exit code 1 on CRITICAL,HIGH with a fixed version available
  docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src aquasec/trivy:0.68.1 fs --scanners vuln,secret --skip-dirs security/selftest --ignorefile .trivyignore.yaml --severity CRITICAL,HIGH --ignore-unfixed --exit-code 1 .
); then failed="${failed} dependencies and secrets (Trivy);"; fi
# Gate: secrets (Gitleaks)
if ! (
  mkdir -p sarif
  # The tree as pushed; the scheduled history scan finds what a later commit removed
  docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src zricethezav/gitleaks:v8.30.1 dir --config .gitleaks.toml --redact --no-banner --report-format sarif --report-path sarif/leaks.sarif .
); then failed="${failed} secrets (Gitleaks);"; fi
if [ -n "${failed}" ]; then
  echo "error: blocked by:${failed} see above" >&2
  exit 1
fi
''')
                    }
                    post {
                        always {
                            // The SARIF reports: Warnings Next Generation's recordIssues(tool: sarif(…)) can show them.
                            archiveArtifacts(artifacts: 'trivy-fs.json, sarif/*.sarif', allowEmptyArchive: true)
                        }
                    }
                }
                stage('Security Scan (SAST)') {
                    agent {
                        label 'docker'
                    }
                    options {
                        timeout(time: 20, unit: 'MINUTES')
                    }
                    steps {
                        sh(label: 'SAST: Semgrep', script: '''#!/usr/bin/env bash
set -euo pipefail
mkdir -p sarif
# Registry rules (p/default, fetched at run time) plus the kit's own rules; the gate at ERROR
docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src --env SEMGREP_ENABLE_VERSION_CHECK=0 --entrypoint semgrep semgrep/semgrep:1.170.0 scan --config p/default --config security/semgrep.yml --exclude security/selftest --severity ERROR --metrics off --disable-version-check --error . --sarif-output sarif/code.sarif
''')
                    }
                    post {
                        always {
                            archiveArtifacts(artifacts: 'sarif/code.sarif', allowEmptyArchive: true)
                        }
                    }
                }
        stage('Deploy Staging (signatures)') {
            when {
                beforeAgent true
                branch 'main'
            }
            agent {
                label 'docker'
            }
            options {
                timeout(time: 10, unit: 'MINUTES')
            }
            steps {
                withCredentials([string(credentialsId: 'cosign-public-key', variable: 'COSIGN_PUBLIC_KEY')]) {
                    withCredentials([usernamePassword(credentialsId: 'container-registry', usernameVariable: 'REGISTRY_USERNAME', passwordVariable: 'REGISTRY_PASSWORD')]) {
                        sh(label: 'Verify signatures and attestations', script: '''#!/usr/bin/env bash
set -euo pipefail
printf '%s' "${REGISTRY_PASSWORD}" | docker login --username "${REGISTRY_USERNAME}" --password-stdin "ghcr.io"
# Deploy only digests this pipeline signed, with their SBOM and scan attestations
docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src --volume "${DOCKER_CONFIG:-${HOME}/.docker}:/docker-config:ro" --env DOCKER_CONFIG=/docker-config --env COSIGN_PUBLIC_KEY ghcr.io/sigstore/cosign/cosign:v2.5.0 verify --key env://COSIGN_PUBLIC_KEY "${IMAGE_FASTAPI_POSTGRES}" > /dev/null
docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src --volume "${DOCKER_CONFIG:-${HOME}/.docker}:/docker-config:ro" --env DOCKER_CONFIG=/docker-config --env COSIGN_PUBLIC_KEY ghcr.io/sigstore/cosign/cosign:v2.5.0 verify-attestation --type spdxjson --key env://COSIGN_PUBLIC_KEY "${IMAGE_FASTAPI_POSTGRES}" > /dev/null
docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src --volume "${DOCKER_CONFIG:-${HOME}/.docker}:/docker-config:ro" --env DOCKER_CONFIG=/docker-config --env COSIGN_PUBLIC_KEY ghcr.io/sigstore/cosign/cosign:v2.5.0 verify-attestation --type vuln --key env://COSIGN_PUBLIC_KEY "${IMAGE_FASTAPI_POSTGRES}" > /dev/null
echo "Signatures and attestations verified for 1 image(s)."
''')
                    }
                }
            }
            post {
                always {
                    sh(label: 'Log out', script: 'docker logout || true')
                }
            }
        }
        stage('Deploy Prod (signatures)') {
            when {
                beforeAgent true
                branch 'main'
            }
            agent {
                label 'docker'
            }
            options {
                timeout(time: 10, unit: 'MINUTES')
            }
            steps {
                withCredentials([string(credentialsId: 'cosign-public-key', variable: 'COSIGN_PUBLIC_KEY')]) {
                    withCredentials([usernamePassword(credentialsId: 'container-registry', usernameVariable: 'REGISTRY_USERNAME', passwordVariable: 'REGISTRY_PASSWORD')]) {
                        sh(label: 'Verify signatures and attestations', script: '''#!/usr/bin/env bash
set -euo pipefail
printf '%s' "${REGISTRY_PASSWORD}" | docker login --username "${REGISTRY_USERNAME}" --password-stdin "ghcr.io"
# Deploy only digests this pipeline signed, with their SBOM and scan attestations
docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src --volume "${DOCKER_CONFIG:-${HOME}/.docker}:/docker-config:ro" --env DOCKER_CONFIG=/docker-config --env COSIGN_PUBLIC_KEY ghcr.io/sigstore/cosign/cosign:v2.5.0 verify --key env://COSIGN_PUBLIC_KEY "${IMAGE_FASTAPI_POSTGRES}" > /dev/null
docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src --volume "${DOCKER_CONFIG:-${HOME}/.docker}:/docker-config:ro" --env DOCKER_CONFIG=/docker-config --env COSIGN_PUBLIC_KEY ghcr.io/sigstore/cosign/cosign:v2.5.0 verify-attestation --type spdxjson --key env://COSIGN_PUBLIC_KEY "${IMAGE_FASTAPI_POSTGRES}" > /dev/null
docker run --rm --user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src --volume "${DOCKER_CONFIG:-${HOME}/.docker}:/docker-config:ro" --env DOCKER_CONFIG=/docker-config --env COSIGN_PUBLIC_KEY ghcr.io/sigstore/cosign/cosign:v2.5.0 verify-attestation --type vuln --key env://COSIGN_PUBLIC_KEY "${IMAGE_FASTAPI_POSTGRES}" > /dev/null
echo "Signatures and attestations verified for 1 image(s)."
''')
                    }
                }
            }
            post {
                always {
                    sh(label: 'Log out', script: 'docker logout || true')
                }
            }
        }
