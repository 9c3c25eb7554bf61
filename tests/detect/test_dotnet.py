from __future__ import annotations

from pathlib import Path

from deploysmith.detect import detect_stack, dotnet
from deploysmith.detect.base import Strength
from deploysmith.model import Evidence
from tests.detect.ecosystem_fixtures import ev, make_repo, only

SLN = r"""
Microsoft Visual Studio Solution File, Format Version 12.00
Project("{FAE04EC0}") = "Shop.Api", "src\Shop.Api\Shop.Api.csproj", "{A}"
EndProject
Project("{FAE04EC0}") = "Shop.Data", "src\Shop.Data\Shop.Data.csproj", "{B}"
EndProject
Project("{FAE04EC0}") = "Shop.Api.Tests", "tests\Shop.Api.Tests\Shop.Api.Tests.csproj", "{C}"
EndProject
"""

API = r"""
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
    <AssemblyName>Shop.Api</AssemblyName>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Microsoft.EntityFrameworkCore.Design" Version="8.0.4" />
    <PackageReference Include="StackExchange.Redis" Version="2.7.33" />
  </ItemGroup>
  <ItemGroup>
    <ProjectReference Include="..\Shop.Data\Shop.Data.csproj" />
  </ItemGroup>
</Project>
"""

DATA = """
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Npgsql.EntityFrameworkCore.PostgreSQL" Version="8.0.2" />
  </ItemGroup>
</Project>
"""

TESTS = r"""
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Microsoft.NET.Test.Sdk" Version="17.9.0" />
    <PackageReference Include="xunit" Version="2.7.0" />
  </ItemGroup>
  <ItemGroup>
    <ProjectReference Include="..\..\src\Shop.Api\Shop.Api.csproj" />
  </ItemGroup>
</Project>
"""

PROGRAM = """
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddHealthChecks();
var app = builder.Build();
app.MapHealthChecks("/healthz");
app.MapGet("/", () => "hi");
app.Run();
"""


def solution() -> dict[str, str | bytes]:
    return {
        "Shop.sln": SLN,
        "Directory.Packages.props": "<Project />\n",
        ".editorconfig": "root = true\n",
        "src/Shop.Api/Shop.Api.csproj": API,
        "src/Shop.Api/Program.cs": PROGRAM,
        "src/Shop.Data/Shop.Data.csproj": DATA,
        "src/Shop.Data/Migrations/ShopDbContextModelSnapshot.cs": "partial class Snapshot {}\n",
        "src/Shop.Data/packages.lock.json": "{}\n",
        "tests/Shop.Api.Tests/Shop.Api.Tests.csproj": TESTS,
    }


def test_aspnet_solution_with_test_project_and_ef_migrations(tmp_path: Path) -> None:
    files = solution()
    files["src/Shop.Api/Api.sln"] = 'Project("{X}") = "Shop.Api", "Shop.Api.csproj", "{A}"\nEndProject\n'
    repo = make_repo(tmp_path, files)
    assert dotnet.detect(repo, "src/Shop.Api") is None  # the outermost solution owns it
    assert dotnet.detect(repo, "tests/Shop.Api.Tests") is None  # a test project is never a component
    detection = dotnet.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.APP
    api = only(detection)
    assert (api.name, api.path, api.kind, api.language) == ("", ".", "web", "csharp")
    assert api.framework == "aspnetcore"
    assert api.evidence["framework"] == ev(
        "src/Shop.Api/Shop.Api.csproj", 1, '<Project Sdk="Microsoft.NET.Sdk.Web">'
    )
    assert api.language_version == "8.0"
    assert api.evidence["language_version"] == ev(
        "src/Shop.Api/Shop.Api.csproj", 3, "<TargetFramework>net8.0</TargetFramework>"
    )
    assert api.package_manager == "nuget"
    assert api.build_target == "src/Shop.Api/Shop.Api.csproj"
    assert api.build_command == (
        "dotnet publish src/Shop.Api/Shop.Api.csproj -c Release -o /app/publish"
        " && dotnet tool install --tool-path /tmp/dotnet-tools dotnet-ef --version 8.0.4"
        " && /tmp/dotnet-tools/dotnet-ef migrations bundle --project src/Shop.Data/Shop.Data.csproj"
        " --startup-project src/Shop.Api/Shop.Api.csproj -o /app/publish/efbundle"
    )
    assert api.build_output == "/app/publish"
    assert api.start_command == "dotnet /app/Shop.Api.dll"
    assert api.port == 8080
    assert api.evidence["port"] == ev(
        "src/Shop.Api/Shop.Api.csproj", None, "ASPNETCORE_HTTP_PORTS=8080 in .NET 8+ images", default=True
    )
    assert api.health_path == "/healthz"
    assert api.evidence["health_path"] == ev("src/Shop.Api/Program.cs", 4, 'app.MapHealthChecks("/healthz");')
    assert api.test_command == "dotnet test Shop.sln"
    assert api.evidence["test_command"] == ev("tests/Shop.Api.Tests/Shop.Api.Tests.csproj", None, "")
    assert api.lint_command == "dotnet format src/Shop.Api/Shop.Api.csproj --verify-no-changes"
    # Services come from the referenced data project too.
    assert api.services == ("redis", "postgres")
    assert api.evidence["services"] == (
        Evidence(
            "src/Shop.Api/Shop.Api.csproj",
            8,
            '<PackageReference Include="StackExchange.Redis" Version="2.7.33" />',
        ),
        Evidence(
            "src/Shop.Data/Shop.Data.csproj",
            6,
            '<PackageReference Include="Npgsql.EntityFrameworkCore.PostgreSQL" Version="8.0.2" />',
        ),
    )
    assert (api.migration_tool, api.migrate_command) == ("ef-core", "/app/efbundle")
    assert api.evidence["migrate_command"] == ev(
        "src/Shop.Data/Migrations/ShopDbContextModelSnapshot.cs",
        None,
        "EF Core migrations, run as a migrations bundle",
    )
    assert api.dependency_files == (
        "Directory.Packages.props",
        "src/Shop.Api/Shop.Api.csproj",
        "src/Shop.Data/Shop.Data.csproj",
        "src/Shop.Data/packages.lock.json",
    )


def test_project_without_solution(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "api/Api.csproj": API.replace(r"..\Shop.Data\Shop.Data.csproj", "Missing.csproj"),
            "api/Program.cs": PROGRAM + "db.Database.Migrate();\n",
            "api/Migrations/AppModelSnapshot.cs": "class AppModelSnapshot {}\n",
            "api/appsettings.json": """
                {
                  // Kestrel reads this in every environment
                  "Kestrel": {
                    "Endpoints": {
                      "Http": { "Url": "http://0.0.0.0:5005" }
                    }
                  }
                }
                """,
            "api/.config/dotnet-tools.json": '{"tools": {"dotnet-ef": {"version": "8.0.4"}}}\n',
            "tests/Api.Tests/Api.Tests.csproj": TESTS.replace(r"src\Shop.Api\Shop.Api", "api/Api"),
        },
    )
    api = only(dotnet.detect(repo, "api"))
    assert (api.path, api.build_target) == ("api", "Api.csproj")
    assert api.build_command == "dotnet publish Api.csproj -c Release -o /app/publish"  # no bundle: see below
    assert api.start_command == "dotnet /app/Shop.Api.dll"
    assert api.port == 5005
    assert api.evidence["port"] == ev("api/appsettings.json", 5, '"Http": { "Url": "http://0.0.0.0:5005" }')
    assert api.test_command == "dotnet test ../tests/Api.Tests/Api.Tests.csproj"
    # The app migrates at startup, so there is no separate command.
    assert (api.migration_tool, api.migrate_command) == ("ef-core", None)
    assert api.evidence["migration_tool"] == ev(
        "api/Program.cs", 7, "db.Database.Migrate(); (the app applies them at startup)"
    )
    assert api.lint_command is None
    assert api.dependency_files == ("Api.csproj",)


def test_tool_manifest_runs_dotnet_ef(tmp_path: Path) -> None:
    files = solution()
    files[".config/dotnet-tools.json"] = '{"tools": {"dotnet-ef": {"version": "8.0.4"}}}\n'
    api = only(dotnet.detect(make_repo(tmp_path, files), "."))
    bundle = "&& dotnet tool restore && dotnet ef migrations bundle --project src/Shop.Data/Shop.Data.csproj"
    assert bundle in (api.build_command or "")


def test_worker_service_and_old_web_projects(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "Jobs.slnx": '<Solution>\n  <Project Path="Worker/Worker.csproj" />\n'
            '  <Project Path="Legacy/Legacy.csproj" />\n</Solution>\n',
            "Worker/Worker.csproj": """
                <Project Sdk="Microsoft.NET.Sdk.Worker">
                  <PropertyGroup><TargetFramework>net9.0</TargetFramework></PropertyGroup>
                  <ItemGroup><PackageReference Include="RabbitMQ.Client" Version="6.8.1" /></ItemGroup>
                </Project>
                """,
            "Legacy/Legacy.csproj": '<Project Sdk="Microsoft.NET.Sdk.Web">\n  <PropertyGroup>'
            "<TargetFrameworks>net6.0;netstandard2.0</TargetFrameworks>"
            "</PropertyGroup>\n</Project>\n",
        },
    )
    detection = dotnet.detect(repo, ".")
    assert detection is not None and detection.strength == Strength.APP
    worker, legacy = detection.components
    assert (worker.name, worker.kind, worker.port) == ("worker", "worker", None)
    assert worker.framework == "worker-service"
    assert worker.language_version == "9.0"
    assert worker.services == ("rabbitmq",)
    assert worker.test_command is None
    assert (legacy.name, legacy.kind, legacy.language_version, legacy.port) == ("legacy", "web", "6.0", 80)
    assert legacy.evidence["port"] == ev(
        "Legacy/Legacy.csproj", None, "ASP.NET Core images before .NET 8 listen on 80", default=True
    )


def test_project_reference_outside_the_folder_is_reported(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "Api/Api.csproj": API.replace("Shop.Data", "Shared"),
            "Shared/Shared.csproj": DATA,
        },
    )
    api = only(dotnet.detect(repo, "Api"))
    assert api.dependency_files == ("Api.csproj",)
    assert api.services == ("redis", "postgres")
    assert repo.warnings == [
        "Api/Api.csproj: the build reads Shared/Shared.csproj, outside Api; "
        "a solution in a folder above both would let the image build see them"
    ]


def test_malformed_and_unsafe_project_files_warn(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        {
            "a/A.csproj": '<Project Sdk="Microsoft.NET.Sdk.Web">\n',
            "b/B.csproj": '<!DOCTYPE Project [<!ENTITY x "y">]>\n<Project Sdk="Microsoft.NET.Sdk.Web" />\n',
            "c/C.csproj": '<Project Sdk="Microsoft.NET.Sdk">\n  <PropertyGroup>'
            "<TargetFramework>net8.0</TargetFramework></PropertyGroup>\n</Project>\n",
        },
    )
    assert dotnet.detect(repo, "a") is None
    assert dotnet.detect(repo, "b") is None
    assert dotnet.detect(repo, "c") is None  # a class library
    assert repo.warnings == [
        "a/A.csproj:2: malformed XML (no element found: line 2, column 0); ignored",
        "b/B.csproj: declares a DOCTYPE or entities; not parsed (unsafe XML)",
    ]


def test_restore_reads_configs_props_chains_and_imports(tmp_path: Path) -> None:
    api_project = API.replace(
        '<Project Sdk="Microsoft.NET.Sdk.Web">',
        '<Project Sdk="Microsoft.NET.Sdk.Web">\n  <Import Project="..\\..\\eng\\common.props" />',
    )
    files = {
        **solution(),
        "global.json": '{"sdk": {"version": "8.0.100", "rollForward": "latestFeature"}}\n',
        "NuGet.Config": "<configuration><packageSources/></configuration>\n",
        "src/Shop.Api/nuget.config": (
            '<configuration><packageSourceCredentials><acme><add key="Username" value="ci" />'
            "</acme></packageSourceCredentials></configuration>\n"
        ),
        "Directory.Build.props": "<Project />\n",
        "Directory.Build.targets": "<Project />\n",
        "src/Directory.Build.props": (
            "<Project>\n  <Import Project=\"$([MSBuild]::GetPathOfFileAbove('Directory.Build.props', "
            "'$(MSBuildThisFileDirectory)../'))\" />\n</Project>\n"
        ),
        "eng/common.props": "<Project />\n",
        "src/Shop.Api/Shop.Api.csproj": api_project,
    }
    stack = detect_stack(make_repo(tmp_path, files))
    api = stack.components[0]
    assert api.dependency_files == (
        "global.json",
        "NuGet.Config",
        "src/Directory.Build.props",
        "Directory.Build.props",
        "Directory.Build.targets",
        "Directory.Packages.props",
        "src/Shop.Api/Shop.Api.csproj",
        "src/Shop.Data/Shop.Data.csproj",
        "eng/common.props",
        "src/Shop.Data/packages.lock.json",
    )
    assert stack.warnings == (
        "src/Shop.Api/nuget.config: holds NuGet feed credentials (packageSourceCredentials); not copied "
        "with the dependency files (an image layer would keep it): give the install a BuildKit secret "
        "instead (RUN --mount=type=secret) and keep the file out of the image (.dockerignore)",
    )
