"""A synthetic monorepo of deployment files for the audit benchmarks: exactly N files
(default 1,000) with a fixed seed, so every run audits the same bytes.

    python bench/audit_corpus.py OUT_DIR [--files 1000] [--seed 6]

Layout (realistic variety, good and bad practice mixed at random):
  services/svc-NNN/Dockerfile            python, node, go, java or nginx; multi-stage or not,
                                         root or not, pinned or `latest`, apt/pip/npm hygiene
  services/svc-NNN/.dockerignore         most services
  services/svc-NNN/k8s/base/*.yaml       Deployment (+ probes, resources, securityContext or not),
                                         Service, and some of Ingress, HPA, PDB, ConfigMap,
                                         NetworkPolicy, CronJob (a few with deprecated APIs)
  services/svc-NNN/k8s/overlays/{staging,prod}/kustomization.yaml + a patch
  services/svc-NNN/<CI file>             .gitlab-ci.yml, azure-pipelines.yml, Jenkinsfile or
                                         .circleci/config.yml, in turn
  .github/workflows/svc-NNN.yml          one GitHub Actions workflow per service
"""

# ruff: noqa: E501  (the generator's templates read best as whole YAML/Groovy lines)
from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path

SHA = "3d3c42e5aac5ba805825da76410c181273ba90b1"


class Corpus:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.files: dict[str, str] = {}

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def add(self, path: str, text: str) -> None:
        self.files[path] = text


# -- Dockerfiles -------------------------------------------------------------------------------------


def dockerfile(c: Corpus, lang: str) -> str:
    tag = "latest" if c.chance(0.15) else ""
    user = "USER 10001\n" if c.chance(0.6) else ""
    health = "HEALTHCHECK CMD wget -qO- http://localhost:8080/health || exit 1\n" if c.chance(0.4) else ""
    secret = "ENV API_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc\n" if c.chance(0.05) else ""
    add = "ADD https://example.com/tool.tgz /opt/\n" if c.chance(0.1) else ""
    if lang == "python":
        base = f"python:{tag or c.pick('3.12-slim', '3.13-slim-trixie', '3.11')}"
        install = (
            "RUN pip install --no-cache-dir -r requirements.txt\n"
            if c.chance(0.5)
            else "RUN pip install -r requirements.txt\n"
        )
        apt = (
            "RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n"
            if c.chance(0.5)
            else "RUN apt-get update && apt-get install -y curl\n"
        )
        copy_first = c.chance(0.5)
        body = (
            f"FROM {base}\nWORKDIR /app\n{apt}"
            + ("COPY . .\n" + install if copy_first else "COPY requirements.txt .\n" + install + "COPY . .\n")
            + f"{secret}{add}{user}{health}EXPOSE 8080\n"
            + ("CMD python -m app\n" if c.chance(0.3) else 'CMD ["python", "-m", "app"]\n')
        )
        return body
    if lang == "node":
        base = f"node:{tag or c.pick('22-bookworm-slim', '24-trixie-slim', '20')}"
        if c.chance(0.5):
            return (
                f"FROM {base} AS build\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\n"
                f"RUN npm run build\n\nFROM {base}\nWORKDIR /app\nCOPY --from=build /app/dist ./dist\n"
                f"COPY --from=build /app/node_modules ./node_modules\n{secret}{user}{health}"
                'CMD ["node", "dist/server.js"]\n'
            )
        return (
            f"FROM {base}\nWORKDIR /app\nCOPY . .\nRUN npm install\n{add}{user}EXPOSE 3000\nCMD npm start\n"
        )
    if lang == "go":
        builder = f"golang:{tag or c.pick('1.25', '1.24-bookworm')}"
        final = c.pick("gcr.io/distroless/static-debian12:nonroot", "alpine:3.22", "scratch", "ubuntu")
        return (
            f"FROM {builder} AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n"
            f"RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app\n\nFROM {final}\n"
            f'COPY --from=build /out/app /app\n{user}{health}ENTRYPOINT ["/app"]\n'
        )
    if lang == "java":
        base = f"eclipse-temurin:{tag or c.pick('21-jre', '25-jre-noble')}"
        if c.chance(0.5):
            return (
                "FROM maven:3.9-eclipse-temurin-21 AS build\nWORKDIR /src\nCOPY pom.xml .\n"
                "RUN mvn -B dependency:go-offline\nCOPY src src\nRUN mvn -B package -DskipTests\n\n"
                f"FROM {base}\nCOPY --from=build /src/target/app.jar /app.jar\n{user}{health}"
                'ENTRYPOINT ["java", "-jar", "/app.jar"]\n'
            )
        return (
            f"FROM maven:3.9-eclipse-temurin-21\nWORKDIR /src\nCOPY . .\nRUN mvn -B package\n{secret}"
            "CMD java -jar target/app.jar\n"
        )
    base = f"nginx:{tag or c.pick('1.29-alpine', '1.28')}"
    return f"FROM {base}\nCOPY dist/ /usr/share/nginx/html/\n{user}{health}"


# -- Kubernetes -----------------------------------------------------------------------------------------


def deployment(c: Corpus, name: str) -> str:
    image = f"registry.example.com/{name}:{c.pick('1.4.2', 'latest', 'sha-3f2a1c9', '2.0.0')}"
    replicas = c.pick("1", "2", "3")
    probes = (
        "          readinessProbe:\n            httpGet: {path: /ready, port: 8080}\n"
        "          livenessProbe:\n            httpGet: {path: /health, port: 8080}\n"
        if c.chance(0.6)
        else ""
    )
    resources = (
        "          resources:\n            requests: {cpu: 100m, memory: 128Mi}\n            limits: {memory: 256Mi}\n"
        if c.chance(0.6)
        else ""
    )
    security = (
        "          securityContext:\n            runAsNonRoot: true\n            allowPrivilegeEscalation: false\n"
        "            readOnlyRootFilesystem: true\n            capabilities: {drop: [ALL]}\n"
        if c.chance(0.5)
        else ("          securityContext:\n            privileged: true\n" if c.chance(0.1) else "")
    )
    host = "      hostNetwork: true\n" if c.chance(0.05) else ""
    volumes = (
        "      volumes:\n        - name: host\n          hostPath: {path: /var/run}\n"
        if c.chance(0.05)
        else ""
    )
    env = (
        "          env:\n            - name: DB_PASSWORD\n              value: hunter2-prod-8f3k2\n"
        if c.chance(0.08)
        else "          env:\n            - name: LOG_LEVEL\n              value: info\n"
    )
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {{app: {name}}}\n"
        f"spec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n"
        f"    metadata:\n      labels: {{app: {name}}}\n    spec:\n{host}      containers:\n"
        f"        - name: {name}\n          image: {image}\n          ports:\n            - containerPort: 8080\n"
        f"{env}{probes}{resources}{security}{volumes}"
    )


def service(c: Corpus, name: str) -> str:
    selector = name if c.chance(0.95) else f"{name}-old"
    kind = c.pick("ClusterIP", "ClusterIP", "LoadBalancer", "NodePort")
    return (
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  type: {kind}\n"
        f"  selector: {{app: {selector}}}\n  ports:\n    - port: 80\n      targetPort: 8080\n"
    )


def extras(c: Corpus, name: str) -> dict[str, str]:
    found: dict[str, str] = {}
    if c.chance(0.6):
        api = "networking.k8s.io/v1" if c.chance(0.85) else "extensions/v1beta1"
        tls = (
            f"  tls:\n    - hosts: [{name}.example.com]\n      secretName: {name}-tls\n"
            if c.chance(0.6)
            else ""
        )
        found["ingress.yaml"] = (
            f"apiVersion: {api}\nkind: Ingress\nmetadata:\n  name: {name}\nspec:\n{tls}  rules:\n"
            f"    - host: {name}.example.com\n      http:\n        paths:\n          - path: /\n"
            f"            pathType: Prefix\n            backend:\n              service:\n"
            f"                name: {name}\n                port: {{number: 80}}\n"
        )
    if c.chance(0.5):
        found["hpa.yaml"] = (
            f"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {name}\nspec:\n"
            f"  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}\n  minReplicas: 2\n"
            "  maxReplicas: 6\n  metrics:\n    - type: Resource\n      resource:\n        name: cpu\n"
            "        target: {type: Utilization, averageUtilization: 70}\n"
        )
    if c.chance(0.4):
        api = "policy/v1" if c.chance(0.85) else "policy/v1beta1"
        found["pdb.yaml"] = (
            f"apiVersion: {api}\nkind: PodDisruptionBudget\nmetadata:\n  name: {name}\nspec:\n  minAvailable: 1\n"
            f"  selector:\n    matchLabels: {{app: {name}}}\n"
        )
    if c.chance(0.4):
        secret = "  DATABASE_PASSWORD: Sup3rS3cretValue99\n" if c.chance(0.2) else ""
        found["configmap.yaml"] = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-config\ndata:\n  LOG_LEVEL: info\n{secret}"
        )
    if c.chance(0.3):
        found["networkpolicy.yaml"] = (
            f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\nspec:\n"
            f"  podSelector:\n    matchLabels: {{app: {name}}}\n  policyTypes: [Ingress]\n  ingress:\n"
            "    - from:\n        - podSelector: {}\n"
        )
    if c.chance(0.2):
        found["cronjob.yaml"] = (
            f"apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {name}-cleanup\nspec:\n"
            '  schedule: "0 3 * * *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n'
            "          restartPolicy: OnFailure\n          containers:\n            - name: cleanup\n"
            f"              image: registry.example.com/{name}:{c.pick('1.4.2', 'latest')}\n"
            "              args: [cleanup]\n"
        )
    return found


def overlay(c: Corpus, name: str, env: str) -> dict[str, str]:
    replicas = "3" if env == "prod" else "1"
    return {
        "kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"namespace: {name}-{env}\nresources:\n  - ../../base\npatches:\n  - path: replicas.yaml\n"
            f"images:\n  - name: registry.example.com/{name}\n    newTag: {c.pick('1.4.3', 'latest', 'sha-9c1d2e0')}\n"
        ),
        "replicas.yaml": (
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n"
        ),
    }


# -- CI pipelines -----------------------------------------------------------------------------------------


def gitlab(c: Corpus, name: str) -> str:
    image = c.pick("python:3.13-slim", "node:22", "golang:1.25", "python:latest", "node")
    allow = "  allow_failure: true\n" if c.chance(0.3) else ""
    cache = (
        "  cache:\n    key:\n      files: [requirements.txt]\n    paths: [.cache/pip]\n"
        if c.chance(0.5)
        else ""
    )
    manual = "  when: manual\n" if c.chance(0.6) else ""
    inject = (
        '    - echo "Deploying $CI_COMMIT_MESSAGE"\n'
        if c.chance(0.5)
        else '    - eval "notify $CI_COMMIT_TITLE"\n'
    )
    debug = 'variables:\n  CI_DEBUG_TRACE: "true"\n' if c.chance(0.05) else ""
    include = (
        "include:\n  - project: platform/ci-templates\n    file: /security.yml\n" if c.chance(0.3) else ""
    )
    return (
        f"{include}{debug}stages: [build, test, package, deploy]\n"
        f"build:\n  stage: build\n  image: {image}\n{cache}  script:\n    - pip install -r requirements.txt\n"
        f"test:\n  stage: test\n  image: {image}\n{cache}  script:\n    - pytest{' || true' if c.chance(0.2) else ''}\n"
        f"sast:\n  stage: test\n  image: returntocorp/semgrep\n{allow}  script:\n    - semgrep ci\n"
        f"package:\n  stage: package\n  image: docker:28\n  services: [docker:28-dind]\n  script:\n"
        f'    - docker build -t "$CI_REGISTRY_IMAGE/{name}:$CI_COMMIT_SHA" services/{name}\n'
        f'    - docker push "$CI_REGISTRY_IMAGE/{name}:$CI_COMMIT_SHA"\n'
        f"deploy-staging:\n  stage: deploy\n  image: bitnami/kubectl:1.33\n  environment: staging\n  script:\n"
        f"    - kubectl apply -k services/{name}/k8s/overlays/staging\n"
        f"deploy-prod:\n  stage: deploy\n  needs: [deploy-staging]\n  image: bitnami/kubectl:1.33\n"
        f"  environment: production\n{manual}  script:\n{inject}"
        f"    - kubectl apply -k services/{name}/k8s/overlays/prod\n"
        f"    - kubectl rollout status deployment/{name} -n {name}-prod\n"
    )


def azure(c: Corpus, name: str) -> str:
    deployment = c.chance(0.6)
    prod = (
        "      - deployment: prod\n        environment: production\n        strategy:\n          runOnce:\n"
        "            deploy:\n              steps:\n"
        f"                - script: kubectl apply -k services/{name}/k8s/overlays/prod\n"
        if deployment
        else f"      - job: prod\n        steps:\n          - script: kubectl apply -k services/{name}/k8s/overlays/prod\n"
    )
    return (
        "trigger: [main]\npool:\n  vmImage: ubuntu-24.04\nstages:\n  - stage: Build\n    jobs:\n      - job: build\n"
        f"        timeoutInMinutes: {c.pick('0', '20', '30')}\n        steps:\n"
        + ("          - checkout: self\n            persistCredentials: true\n" if c.chance(0.2) else "")
        + "          - script: npm ci && npm test\n"
        + ('          - script: echo "Building $(Build.SourceVersionMessage)"\n' if c.chance(0.4) else "")
        + "          - script: trivy fs --exit-code 1 .\n"
        + f"            continueOnError: {c.pick('true', 'false')}\n"
        + f"          - task: Docker@2\n            inputs:\n              command: buildAndPush\n"
        f"              repository: {name}\n              Dockerfile: services/{name}/Dockerfile\n"
        + f"  - stage: Prod\n    jobs:\n{prod}"
    )


def jenkins(c: Corpus, name: str) -> str:
    timeout = "  options { timeout(time: 30, unit: 'MINUTES') }\n" if c.chance(0.5) else ""
    approval = "      input { message 'Deploy to production?' }\n" if c.chance(0.5) else ""
    library = "@Library('pipeline-lib') _\n" if c.chance(0.3) else "@Library('pipeline-lib@2.1.0') _\n"
    interpolate = (
        'sh "echo Building ${env.BRANCH_NAME}"' if c.chance(0.4) else "sh 'echo Building \"$BRANCH_NAME\"'"
    )
    return (
        f"{library}pipeline {{\n  agent {{ docker {{ image '{c.pick('maven:3.9-eclipse-temurin-21', 'maven:latest')}' }} }}\n"
        f"{timeout}  environment {{\n    REGISTRY = credentials('registry')\n  }}\n  stages {{\n"
        f"    stage('Build') {{\n      steps {{\n        {interpolate}\n        sh './mvnw -B package'\n      }}\n    }}\n"
        f"    stage('Test') {{\n      steps {{\n        sh './mvnw -B test'\n      }}\n    }}\n"
        f"    stage('Image') {{\n      steps {{\n        sh 'docker build -t {name} services/{name}'\n"
        f'        sh \'echo "$REGISTRY_PSW" | docker login -u "$REGISTRY_USR" --password-stdin registry.example.com\'\n'
        f"      }}\n    }}\n    stage('Deploy production') {{\n{approval}      steps {{\n"
        f"        sh 'kubectl apply -k services/{name}/k8s/overlays/prod'\n      }}\n    }}\n  }}\n"
        "  post {\n    failure { sh 'kubectl rollout undo deployment/app' }\n  }\n}\n"
    )


def circleci(c: Corpus, name: str) -> str:
    orb = c.pick("circleci/node@7.1.0", "circleci/node@7", "circleci/node@volatile")
    hold = "      - hold:\n          type: approval\n          requires: [test]\n" if c.chance(0.5) else ""
    requires = "[hold]" if hold else "[test]"
    return (
        f"version: 2.1\norbs:\n  node: {orb}\njobs:\n  test:\n    docker:\n"
        f"      - image: {c.pick('cimg/node:22.18', 'cimg/node:latest')}\n    steps:\n      - checkout\n"
        "      - node/install-packages\n      - run: npm test\n"
        + ("      - run: echo << pipeline.git.branch >>\n" if c.chance(0.3) else "")
        + f"  deploy:\n    docker:\n      - image: cimg/base:2025.08\n    steps:\n      - checkout\n"
        f"      - run: kubectl apply -k services/{name}/k8s/overlays/prod\n"
        f"workflows:\n  main:\n    jobs:\n      - test\n{hold}      - deploy:\n          requires: {requires}\n"
    )


def github(c: Corpus, name: str) -> str:
    permissions = "permissions:\n  contents: read\n" if c.chance(0.6) else ""
    checkout = f"actions/checkout@{SHA} # v7.0.1" if c.chance(0.5) else "actions/checkout@v4"
    trigger = c.pick("push", "pull_request", "pull_request_target")
    injection = '      - run: echo "${{ github.event.pull_request.title }}"\n' if c.chance(0.3) else ""
    environment = "    environment: production\n" if c.chance(0.6) else ""
    return (
        f"name: {name}\non:\n  {trigger}:\n    paths: ['services/{name}/**']\n{permissions}jobs:\n  test:\n"
        f"    runs-on: ubuntu-24.04\n    timeout-minutes: 15\n    steps:\n      - uses: {checkout}\n"
        "      - uses: actions/setup-python@v5\n        with:\n          python-version: '3.13'\n"
        f"      - run: pip install -r services/{name}/requirements.txt\n      - run: pytest services/{name}\n"
        f"{injection}  deploy-prod:\n    needs: [test]\n    runs-on: ubuntu-24.04\n{environment}    steps:\n"
        f"      - uses: {checkout}\n      - uses: docker/login-action@v3\n"
        f"      - run: kubectl apply -k services/{name}/k8s/overlays/prod\n"
    )


CI: tuple[tuple[str, Callable[[Corpus, str], str]], ...] = (
    (".gitlab-ci.yml", gitlab),
    ("azure-pipelines.yml", azure),
    ("Jenkinsfile", jenkins),
    (".circleci/config.yml", circleci),
)
LANGUAGES = ("python", "node", "go", "java", "nginx")


def generate(total: int = 1000, seed: int = 6) -> dict[str, str]:
    """Path → text of exactly `total` files."""
    c = Corpus(seed)
    number = 0
    while len(c.files) < total:
        name = f"svc-{number:03d}"
        root = f"services/{name}"
        lang = LANGUAGES[number % len(LANGUAGES)] if c.chance(0.7) else c.pick(*LANGUAGES)
        c.add(f"{root}/Dockerfile", dockerfile(c, lang))
        if c.chance(0.8):
            c.add(f"{root}/.dockerignore", ".git\nnode_modules\n__pycache__\n")
        c.add(f"{root}/k8s/base/deployment.yaml", deployment(c, name))
        c.add(f"{root}/k8s/base/service.yaml", service(c, name))
        resources = ["deployment.yaml", "service.yaml"]
        for file, text in extras(c, name).items():
            c.add(f"{root}/k8s/base/{file}", text)
            resources.append(file)
        c.add(
            f"{root}/k8s/base/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
            + "".join(f"  - {r}\n" for r in resources),
        )
        for env in ("staging", "prod"):
            for file, text in overlay(c, name, env).items():
                c.add(f"{root}/k8s/overlays/{env}/{file}", text)
        ci_path, ci = CI[number % len(CI)]
        c.add(f"{root}/{ci_path}", ci(c, name))
        c.add(f".github/workflows/{name}.yml", github(c, name))
        number += 1
    return dict(sorted(c.files.items())[:total]) if len(c.files) > total else c.files


def write(out: Path, total: int = 1000, seed: int = 6) -> int:
    files = generate(total, seed)
    for path, text in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    print(f"wrote {write(args.out, args.files, args.seed)} files to {args.out}")


if __name__ == "__main__":
    main()
