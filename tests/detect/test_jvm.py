from __future__ import annotations

from pathlib import Path

from deploysmith.detect import detect_stack, jvm
from deploysmith.detect.base import Strength
from deploysmith.model import Component, Evidence, Stack
from tests.detect.ecosystem_fixtures import ev, make_repo, only

BOOT_POM = """
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.3.0</version>
    <relativePath/>
  </parent>
  <groupId>com.acme</groupId>
  <artifactId>orders</artifactId>
  <properties>
    <java.version>21</java.version>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
    </dependency>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-actuator</artifactId>
    </dependency>
    <dependency>
      <groupId>org.postgresql</groupId>
      <artifactId>postgresql</artifactId>
      <scope>runtime</scope>
    </dependency>
    <dependency>
      <groupId>org.flywaydb</groupId>
      <artifactId>flyway-core</artifactId>
    </dependency>
    <dependency>
      <groupId>org.springframework.kafka</groupId>
      <artifactId>spring-kafka</artifactId>
      <scope>test</scope>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.springframework.boot</groupId>
        <artifactId>spring-boot-maven-plugin</artifactId>
      </plugin>
    </plugins>
  </build>
</project>
"""

APPLICATION_YML = """
spring:
  datasource:
    port: 5432
server:
  port: ${PORT:8081}
management:
  endpoints:
    web:
      base-path: /manage
---
spring:
  config:
    activate:
      on-profile: prod
server:
  port: 9999
"""


def test_spring_boot_maven_with_wrapper(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "pom.xml": BOOT_POM,
            "mvnw": "#!/bin/sh\n",
            ".mvn/wrapper/maven-wrapper.properties": "distributionUrl=x\n",
            "src/main/resources/application.yml": APPLICATION_YML,
            "src/test/java/com/acme/OrdersTest.java": "class OrdersTest {}\n",
        },
    )
    detection = jvm.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.APP
    app = only(detection)
    assert (app.name, app.kind, app.language, app.framework) == ("", "web", "java", "spring-boot")
    assert app.evidence["framework"] == ev("pom.xml", 43, "<artifactId>spring-boot-maven-plugin</artifactId>")
    assert app.evidence["kind"] == ev("pom.xml", 18, "<artifactId>spring-boot-starter-web</artifactId>")
    assert app.language_version == "21"
    assert app.evidence["language_version"] == ev("pom.xml", 13, "<java.version>21</java.version>")
    assert app.package_manager == "maven"
    assert app.evidence["package_manager"] == ev("mvnw", None, "")
    assert app.build_command == "./mvnw -B package -DskipTests"
    assert app.build_output == "target/*.jar"
    assert app.build_target is None
    assert app.start_command == "java -jar /app/app.jar"
    assert app.test_command == "./mvnw -B test"
    assert app.evidence["test_command"] == ev("src/test/java/com/acme/OrdersTest.java", None, "")
    assert app.port == 8081  # the default of ${PORT:8081}, from the default profile
    assert app.evidence["port"] == ev("src/main/resources/application.yml", 5, "port: ${PORT:8081}")
    assert app.health_path == "/manage/health"
    assert app.evidence["health_path"] == (
        Evidence("pom.xml", 22, "<artifactId>spring-boot-starter-actuator</artifactId>"),
        Evidence("src/main/resources/application.yml", 9, "base-path: /manage"),
    )
    assert app.services == ("postgres",)  # spring-kafka is test-scoped
    assert app.evidence["services"] == ev("pom.xml", 26, "<artifactId>postgresql</artifactId>")
    assert (app.migration_tool, app.migrate_command) == ("flyway", None)
    assert app.evidence["migration_tool"] == ev(
        "pom.xml",
        31,
        "<artifactId>flyway-core</artifactId> (Spring Boot applies them at startup; no separate command)",
    )
    assert app.dependency_files == ("mvnw", ".mvn/wrapper/maven-wrapper.properties", "pom.xml")
    assert repo.warnings == []


def test_maven_without_wrapper_properties_and_context_path(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "pom.xml": BOOT_POM,
            "src/main/resources/application.properties": """
                spring.application.name=orders
                server.port=9090
                server.servlet.context-path=/api
                """,
        },
    )
    app = only(jvm.detect(repo, "."))
    assert app.build_command == "mvn -B package -DskipTests"
    assert app.test_command == "mvn -B test"
    assert app.evidence["test_command"] == ev("pom.xml", None, "no tests under src/test yet", default=True)
    assert app.evidence["package_manager"] == ev("pom.xml", None, "")
    assert app.port == 9090
    assert app.evidence["port"] == ev("src/main/resources/application.properties", 2, "server.port=9090")
    assert app.health_path == "/api/actuator/health"
    assert app.dependency_files == ("pom.xml",)


def test_gradle_kotlin_dsl_with_wrapper_and_version_catalog(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "settings.gradle.kts": 'rootProject.name = "payments"\n',
            "gradlew": "#!/bin/sh\n",
            "gradle/wrapper/gradle-wrapper.properties": "distributionUrl=x\n",
            "gradle/libs.versions.toml": """
                [libraries]
                spring-kafka = { module = "org.springframework.kafka:spring-kafka", version = "3.1.0" }
                """,
            "build.gradle.kts": """
                plugins {
                    kotlin("jvm") version "2.0.0"
                    id("org.springframework.boot") version "3.3.0"
                    id("io.spring.dependency-management") version "1.1.5"
                }

                java {
                    toolchain {
                        languageVersion = JavaLanguageVersion.of(17)
                    }
                }

                dependencies {
                    implementation("org.springframework.boot:spring-boot-starter-webflux")
                    implementation(libs.spring.kafka)
                    runtimeOnly("com.mysql:mysql-connector-j")
                    testImplementation("org.testcontainers:postgresql")
                }
                """,
        },
    )
    app = only(jvm.detect(repo, "."))
    assert (app.kind, app.language, app.framework) == ("web", "kotlin", "spring-boot")
    assert app.evidence["framework"] == ev(
        "build.gradle.kts", 3, 'id("org.springframework.boot") version "3.3.0"'
    )
    assert app.language_version == "17"
    assert app.evidence["language_version"] == ev(
        "build.gradle.kts", 9, "languageVersion = JavaLanguageVersion.of(17)"
    )
    assert app.package_manager == "gradle"
    assert app.build_command == "./gradlew bootJar"
    assert app.build_output == "build/libs/*.jar"
    assert app.start_command == "java -jar /app/app.jar"
    assert app.test_command == "./gradlew test"
    assert app.port == 8080
    assert app.evidence["port"] == ev(
        "build.gradle.kts",
        14,
        'implementation("org.springframework.boot:spring-boot-starter-webflux")'
        " (no server.port: Spring Boot's 8080)",
        default=True,
    )
    assert app.health_path is None  # no actuator
    assert app.services == ("mysql", "kafka")
    assert [e.line for e in app.evidence["services"]] == [16, 15]
    assert app.dependency_files == (
        "gradlew",
        "gradle/wrapper/gradle-wrapper.properties",
        "settings.gradle.kts",
        "gradle/libs.versions.toml",
        "build.gradle.kts",
    )


MODULE_ROOT = """
<project>
  <groupId>com.acme</groupId>
  <artifactId>shop</artifactId>
  <packaging>pom</packaging>
  <modules>
    <module>common</module>
    <module>api</module>
  </modules>
  <properties>
    <java.version>17</java.version>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-actuator</artifactId>
    </dependency>
  </dependencies>
</project>
"""

API_MODULE = """
<project>
  <parent>
    <groupId>com.acme</groupId>
    <artifactId>shop</artifactId>
    <version>1</version>
  </parent>
  <artifactId>shop-api</artifactId>
  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
    </dependency>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-data-redis</artifactId>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.springframework.boot</groupId>
        <artifactId>spring-boot-maven-plugin</artifactId>
      </plugin>
    </plugins>
  </build>
</project>
"""


def test_multi_module_maven_root_owns_the_boot_module(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "pom.xml": MODULE_ROOT,
            "mvnw": "#!/bin/sh\n",
            "api/pom.xml": API_MODULE,
            "common/pom.xml": "<project><parent><artifactId>shop</artifactId></parent>"
            "<artifactId>shop-common</artifactId></project>\n",
            "api/src/main/resources/application.properties": "server.port=9090\n"
            "management.server.port=9091\n",
        },
    )
    assert jvm.detect(repo, "api") is None  # a module: the root reports it
    assert jvm.detect(repo, "common") is None
    app = only(jvm.detect(repo, "."))
    assert (app.path, app.build_target) == (".", "api")
    assert app.build_command == "./mvnw -B -pl api -am package -DskipTests"
    assert app.build_output == "api/target/*.jar"
    assert app.test_command == "./mvnw -B -pl api -am test"
    assert app.language_version == "17"  # inherited from the parent
    assert app.evidence["language_version"] == ev("pom.xml", 10, "<java.version>17</java.version>")
    assert app.port == 9090
    assert app.health_path == "/actuator/health"  # actuator inherited from the parent pom
    assert app.evidence["health_path"] == (
        Evidence("pom.xml", 15, "<artifactId>spring-boot-starter-actuator</artifactId>"),
        Evidence(
            "api/src/main/resources/application.properties",
            2,
            "management.server.port=9091 (health is served on the management port)",
        ),
    )
    assert app.services == ("redis",)
    assert app.evidence["services"] == ev(
        "api/pom.xml", 15, "<artifactId>spring-boot-starter-data-redis</artifactId>"
    )
    assert app.dependency_files == ("mvnw", "pom.xml", "common/pom.xml", "api/pom.xml")


def test_multi_project_gradle(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "settings.gradle": "rootProject.name = 'shop'\ninclude 'api', 'lib'\ninclude(':tools:cli')\n",
            "gradlew": "",
            "build.gradle": "subprojects {\n  apply plugin: 'java'\n}\n",
            "api/build.gradle": """
                plugins {
                  id 'org.springframework.boot' version '3.2.0'
                }
                java { sourceCompatibility = '17' }
                dependencies {
                  implementation 'org.springframework.boot:spring-boot-starter-web'
                  implementation 'org.springframework.boot:spring-boot-starter-actuator'
                }
                """,
            "lib/build.gradle": "plugins { id 'java-library' }\n",
            "tools/cli/build.gradle": "plugins {\n  id 'application'\n}\n"
            "application {\n  mainClass = 'com.acme.Cli'\n}\n",
        },
    )
    assert jvm.detect(repo, "api") is None
    assert jvm.detect(repo, "tools/cli") is None
    app = only(jvm.detect(repo, "."))  # the CLI is not deployed when there is an app
    assert app.build_target == ":api"
    assert app.build_command == "./gradlew :api:bootJar"
    assert app.build_output == "api/build/libs/*.jar"
    assert app.test_command == "./gradlew :api:test"
    assert app.language_version == "17"
    assert app.evidence["language_version"] == ev(
        "api/build.gradle", 4, "java { sourceCompatibility = '17' }"
    )
    assert app.health_path == "/actuator/health"
    assert app.evidence["health_path"] == ev(
        "api/build.gradle", 7, "implementation 'org.springframework.boot:spring-boot-starter-actuator'"
    )
    assert app.dependency_files == (
        "gradlew",
        "settings.gradle",
        "build.gradle",
        "api/build.gradle",
        "lib/build.gradle",
        "tools/cli/build.gradle",
    )


def test_gradle_application_without_spring_is_runnable(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "settings.gradle": "rootProject.name = 'ingest'\n",
            "build.gradle": "plugins {\n  id 'application'\n}\n"
            "application {\n  mainClass = 'com.acme.Main'\n}\n",
        },
    )
    detection = jvm.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.RUNNABLE
    app = only(detection)
    assert (app.kind, app.framework, app.port) == ("worker", None, None)
    assert app.build_command == "gradle installDist"
    assert app.build_output == "build/install/ingest"
    assert app.start_command == "/app/bin/ingest"


def test_spring_boot_without_web_starter_is_a_worker(tmp_path: Path) -> None:
    pom = BOOT_POM.replace("spring-boot-starter-web<", "spring-boot-starter-amqp<")
    app = only(jvm.detect(make_repo(tmp_path, {"pom.xml": pom}), "."))
    assert (app.kind, app.port, app.health_path) == ("worker", None, None)
    assert app.services == ("postgres", "rabbitmq")


def test_library_is_tooling(tmp_path: Path) -> None:
    pom = "<project><groupId>a</groupId><artifactId>util</artifactId></project>\n"
    detection = jvm.detect(make_repo(tmp_path, {"pom.xml": pom}), ".")
    assert detection is not None and detection.strength == Strength.TOOLING


def test_malformed_and_unsafe_poms_warn(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "a/pom.xml": "<project><artifactId>x</artifactId>\n",
            "b/pom.xml": '<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY e "x">]>\n<project>&e;</project>\n',
        },
    )
    assert jvm.detect(repo, "a") is None
    assert jvm.detect(repo, "b") is None
    assert repo.warnings == [
        "a/pom.xml:2: malformed XML (no element found: line 2, column 0); ignored",
        "b/pom.xml: declares a DOCTYPE or entities; not parsed (unsafe XML)",
    ]


def test_malformed_application_yml_warns(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"pom.xml": BOOT_POM, "src/main/resources/application.yml": "server: [port\n"})
    app = only(jvm.detect(repo, "."))
    assert app.port == 8080 and app.evidence["port"][0].default
    assert repo.warnings == [
        "src/main/resources/application.yml: malformed YAML "
        "(expected ',' or ']', but got '<stream end>'); ignored"
    ]


# -- dependency files --------------------------------------------------------------------------


def only_component(stack: Stack) -> Component:
    assert len(stack.components) == 1, [c.name for c in stack.components]
    return stack.components[0]

CHILD_POM = BOOT_POM.replace(
    "<artifactId>spring-boot-starter-parent</artifactId>\n    <version>3.3.0</version>\n    <relativePath/>",
    "<artifactId>shop-parent</artifactId>\n    <version>1.0</version>\n"
    "    <relativePath>{parent}</relativePath>",
)
PARENT_POM = """
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId>
  <artifactId>shop-parent</artifactId>
  <version>1.0</version>
  <packaging>pom</packaging>
</project>
"""


def test_maven_reads_mvn_config_its_settings_and_the_parent_pom(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "pom.xml": CHILD_POM.format(parent="build-parent/pom.xml"),
            "build-parent/pom.xml": PARENT_POM,
            ".mvn/maven.config": "-s ci/settings.xml\n-T 4\n",
            ".mvn/jvm.config": "-Xmx1g\n",
            ".mvn/extensions.xml": "<extensions/>\n",
            "ci/settings.xml": "<settings><mirrors/></settings>\n",
        },
    )
    stack = detect_stack(repo)
    app = only_component(stack)
    assert app.dependency_files == (
        ".mvn/extensions.xml",
        ".mvn/jvm.config",
        ".mvn/maven.config",
        "ci/settings.xml",
        "pom.xml",
        "build-parent/pom.xml",
    )
    assert stack.warnings == ()


def test_maven_settings_with_a_password_are_not_copied(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "pom.xml": BOOT_POM,
            "mvnw": "#!/bin/sh\n",
            ".mvn/wrapper/maven-wrapper.properties": "distributionUrl=https://repo.maven.apache.org/x.zip\n",
            ".mvn/settings.xml": "<settings><server>\n<password>s3cret</password>\n</server></settings>\n",
        },
    )
    stack = detect_stack(repo)
    assert only_component(stack).dependency_files == (
        "mvnw",
        ".mvn/wrapper/maven-wrapper.properties",
        "pom.xml",
    )
    assert stack.warnings == (
        ".mvn/settings.xml: holds repository credentials (<password>); not copied with the dependency files "
        "(an image layer would keep it): give the install a BuildKit secret instead (RUN "
        "--mount=type=secret) and keep the file out of the image (.dockerignore)",
    )


def test_maven_parent_outside_the_component_is_reported(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {"pom.xml": PARENT_POM, "services/api/pom.xml": CHILD_POM.format(parent="../../pom.xml")},
    )
    stack = detect_stack(repo)
    api = only_component(stack)
    assert (api.path, api.dependency_files) == ("services/api", ("pom.xml",))
    assert stack.warnings == (
        "services/api: Maven reads pom.xml, outside services/api, the folder the image is built from; the "
        "image build cannot see it",
    )


GRADLE_BOOT = """
plugins {
    id("org.springframework.boot") version "3.3.0"
}
dependencies {
    implementation("org.springframework.boot:spring-boot-starter-web")
}
"""


def test_gradle_reads_includes_over_several_lines_build_logic_and_lock_files(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "settings.gradle.kts": """
                pluginManagement {
                    includeBuild("build-logic")
                }
                rootProject.name = "shop"
                include(
                    "api",
                    "lib", // shared code
                )
            """,
            "gradle.properties": "org.gradle.jvmargs=-Xmx2g\n",
            "gradle/libs.versions.toml": "[versions]\n",
            "gradle/verification-metadata.xml": "<verification-metadata/>\n",
            "build.gradle.kts": 'plugins { base }\napply(from = "ci/publishing.gradle.kts")\n',
            "ci/publishing.gradle.kts": "// publishing\n",
            "gradle.lockfile": "empty=\n",
            "api/build.gradle.kts": GRADLE_BOOT,
            "api/gradle.lockfile": "empty=\n",
            "lib/build.gradle.kts": "plugins { `java-library` }\n",
            "buildSrc/build.gradle.kts": "plugins { `kotlin-dsl` }\n",
            "buildSrc/src/main/kotlin/conventions.gradle.kts": "plugins { java }\n",
            "build-logic/settings.gradle.kts": 'rootProject.name = "build-logic"\n',
            "build-logic/build.gradle.kts": "plugins { `kotlin-dsl` }\n",
            "build-logic/src/main/kotlin/shop.java.gradle.kts": "plugins { java }\n",
        },
    )
    stack = detect_stack(repo)
    app = only_component(stack)
    assert (app.path, app.build_target) == (".", ":api")
    assert app.dependency_files == (
        "settings.gradle.kts",
        "gradle.properties",
        "gradle/libs.versions.toml",
        "gradle/verification-metadata.xml",
        "build.gradle.kts",
        "api/build.gradle.kts",
        "lib/build.gradle.kts",
        "ci/publishing.gradle.kts",
        "gradle.lockfile",
        "api/gradle.lockfile",
        "buildSrc/build.gradle.kts",
        "buildSrc/src/main/kotlin/conventions.gradle.kts",
        "build-logic/build.gradle.kts",
        "build-logic/settings.gradle.kts",
        "build-logic/src/main/kotlin/shop.java.gradle.kts",
    )
    assert stack.warnings == ()


def test_gradle_include_lists_continued_over_lines(tmp_path: Path) -> None:
    settings = "rootProject.name = 'shop'\ninclude 'lib',\n        'api'\ninclude ':tools'  // cli\n"
    assert jvm._gradle_includes(settings) == ["lib", "api", ":tools"]
