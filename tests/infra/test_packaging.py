"""Function code holds the pipelines package only; each function gets a layer of exactly the packages its
handler imports, built for Lambda and cached; only the sandbox and synth skip the build, in-process."""

import itertools
import re
import subprocess
import zipfile
from pathlib import Path

import pulumi
import pytest

from infra import cli
from infra.cli import layers as cli_layers
from infra.components import dependencies, packaging
from infra.sandbox.mocks import RecordingMocks
from infra.sandbox.program import load_stack_file, run_program

LAYER_TYPE = "aws:lambda/layerVersion:LayerVersion"
FUNCTION_TYPE = "aws:lambda/function:Function"


def pins(path: Path = dependencies.LAMBDA_REQUIREMENTS) -> dict[str, str]:
    """Normalized distribution name → the requirement line of the real requirements file."""
    return {r.name: r.line for r in dependencies.read_requirements(path)}


# --- the code archive ---------------------------------------------------------------------------


def test_the_code_archive_holds_the_pipelines_package_and_nothing_else(tmp_path):
    root = tmp_path / "pipelines"
    (root / "greeting" / "__pycache__").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "greeting" / "handlers.py").write_text("x = 1")
    (root / "greeting" / "__pycache__" / "handlers.cpython-311.pyc").write_bytes(b"\0")
    (root / "greeting" / "stray.pyc").write_bytes(b"\0")
    (root / ".pytest_cache").mkdir()
    (root / ".pytest_cache" / "v").write_text("")
    archive = packaging.code_archive(root)
    assert sorted(archive.assets) == ["pipelines/__init__.py", "pipelines/greeting/handlers.py"]
    assert packaging.code_size(root) == len("x = 1")


def test_the_real_code_archive_has_every_handler_module_and_no_tests_or_infra():
    paths = sorted(packaging.code_archive().assets)
    assert "pipelines/greeting/handlers.py" in paths
    assert all(p.startswith("pipelines/") for p in paths)
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in paths)


# --- requirements -------------------------------------------------------------------------------


def test_requirements_are_pinned_lines_and_their_constraints_drop_extras(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# comment\n\nPsycopg[binary]==3.3.9  # why\nAWS_Lambda.Powertools==3.37.0\n"
        'tzdata==2026.1 ; sys_platform == "win32"\n'
    )
    parsed = dependencies.read_requirements(requirements)
    assert [(r.name, r.line, r.extras) for r in parsed] == [
        ("psycopg", "Psycopg[binary]==3.3.9", "[binary]"),
        ("aws-lambda-powertools", "AWS_Lambda.Powertools==3.37.0", ""),
        ("tzdata", 'tzdata==2026.1 ; sys_platform == "win32"', ""),
    ]
    assert dependencies.constraints_text(requirements) == (
        'Psycopg==3.3.9\nAWS_Lambda.Powertools==3.37.0\ntzdata==2026.1 ; sys_platform == "win32"\n'
    )


@pytest.mark.parametrize("line", ["requests>=2.34", "requests", "-r other.txt", "--index-url https://x"])
def test_an_unpinned_line_or_an_option_is_an_error_naming_file_and_line(tmp_path, line):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"cryptography==50.0.2\n{line}\n")
    with pytest.raises(dependencies.PackagingError, match=rf"requirements.txt:2: '{re.escape(line)}' is not a pinned"):
        dependencies.read_requirements(requirements)


# --- which requirements a handler needs: the real handlers --------------------------------------


def test_greeting_needs_powertools_only():
    assert dependencies.handler_requirements("pipelines.greeting.handlers.hello") == (pins()["aws-lambda-powertools"],)


@pytest.mark.parametrize("handler", ["fetch_initial", "fetch_complete", "validate", "handle_error"])
def test_every_incidents_handler_needs_psycopg_and_requests_but_not_cryptography(handler):
    needed = dependencies.handler_requirements(f"pipelines.incidents.handlers.{handler}")
    assert pins()["psycopg"] in needed
    assert pins()["requests"] in needed
    assert pins()["cryptography"] not in needed


def test_radar_needs_cryptography_and_requests_but_not_psycopg():
    needed = dependencies.handler_requirements("pipelines.radar.handlers.fetch_radar")
    assert {pins()["cryptography"], pins()["requests"], pins()["urllib3"]} <= set(needed)
    assert pins()["psycopg"] not in needed


def test_no_handler_needs_pandas_and_it_is_no_lambda_requirement():
    assert "pandas" not in pins()
    assert "pandas" in Path(packaging.PROJECT_ROOT / "requirements-dev.txt").read_text()


# --- which requirements a handler needs: synthetic packages -------------------------------------


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def project(tmp_path):
    """A ``pipelines`` package in tmp_path and its requirements file."""
    root = tmp_path / "pipelines"
    write(
        root,
        {
            "__init__.py": "",
            "common/__init__.py": "",
            "common/helpers.py": "import yaml\n",
            "common/crypto.py": "import cryptography.fernet\n",
            "common/leaky.py": "import json\nimport leftpad_is_not_declared.sub\n",
            "common/unused.py": "import psycopg\n",
            "app/__init__.py": "",
            "app/handlers.py": (
                "from __future__ import annotations\n"
                "import json\n"
                "from typing import TYPE_CHECKING\n"
                "import boto3\n"
                "from botocore.config import Config\n"
                "from pipelines.common import helpers\n"
                "from .util import tidy\n"
                "if TYPE_CHECKING:\n"
                "    import pandas\n"
                "else:\n"
                "    import requests\n"
                "def run(event, context):\n"
                "    from dateutil import parser  # a lazy import still runs in Lambda\n"
                "    return parser\n"
            ),
            "app/util.py": "from ..common.crypto import seal\ndef tidy():\n    pass\n",
            "app/plain.py": "import json\nfrom pipelines.common import errors_not_a_module\n",
            "app/bad.py": "from pipelines.app import util\nfrom pipelines.common import leaky\n",
            "app/missing.py": "import pipelines.nowhere.module\n",
        },
    )
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "PyYAML==6.0.3\nrequests==2.34.2\npython-dateutil==2.9.0.post0\ncryptography[ssh]==50.0.2\npsycopg==3.3.9\n"
    )
    return root, requirements


def test_requirements_are_collected_transitively_through_absolute_and_relative_imports(project):
    root, requirements = project
    # yaml via a submodule import, cryptography two relative levels away, dateutil inside a function,
    # requests in the else of TYPE_CHECKING; import names map to their distributions (yaml → PyYAML).
    assert dependencies.handler_requirements("pipelines.app.handlers.run", root, requirements) == (
        "cryptography[ssh]==50.0.2",
        "python-dateutil==2.9.0.post0",
        "PyYAML==6.0.3",
        "requests==2.34.2",
    )


def test_stdlib_runtime_provided_and_type_checking_imports_need_nothing(project):
    root, requirements = project
    imports = dependencies.third_party_imports("pipelines.app.handlers.run", root)
    assert not {"json", "typing", "boto3", "botocore", "pandas", "__future__", "pipelines"} & set(imports)
    assert imports["cryptography"] == "pipelines.common.crypto"
    assert dependencies.handler_requirements("pipelines.app.plain.run", root, requirements) == ()


def test_an_undeclared_import_is_one_line_naming_the_handler_the_module_and_the_import(project):
    root, requirements = project
    with pytest.raises(dependencies.PackagingError) as raised:
        dependencies.handler_requirements("pipelines.app.bad.run", root, requirements)
    message = str(raised.value)
    assert "\n" not in message
    assert "handler pipelines.app.bad.run" in message
    assert "pipelines.common.leaky imports leftpad_is_not_declared" in message
    assert "requirements.txt" in message
    assert isinstance(raised.value, pulumi.RunError)  # Pulumi prints it without a stack trace


def test_a_missing_first_party_module_is_named(project):
    root, requirements = project
    with pytest.raises(dependencies.PackagingError, match=r"pipelines.app.missing imports pipelines.nowhere.module"):
        dependencies.handler_requirements("pipelines.app.missing.run", root, requirements)
    with pytest.raises(dependencies.PackagingError, match=r"its module is pipelines.app.absent"):
        dependencies.handler_requirements("pipelines.app.absent.run", root, requirements)


def test_a_handler_that_needs_no_package_gets_no_layer(project):
    root, requirements = project
    catalog = packaging.LayerCatalog("sw-test", "python3.12", "x86_64", root=root, requirements=requirements)
    assert catalog.layers_for("pipelines.app.plain.run") == []
    assert catalog.layers == {}


# --- one layer per distinct set, under mocks ----------------------------------------------------


def test_the_program_declares_one_layer_per_distinct_set_and_each_function_uses_its_own(dev_program):
    layers = {r.outputs["arn"]: r for r in dev_program.of_type(LAYER_TYPE)}
    functions = dev_program.of_type(FUNCTION_TYPE)
    sets = {dependencies.handler_requirements(f.inputs["handler"]) for f in functions}
    # Powertools; + requests, cryptography; + psycopg; + fastjsonschema; + requests (release-approval)
    assert len(layers) == len(sets) == 5
    for fn in functions:
        needed = dependencies.handler_requirements(fn.inputs["handler"])
        (arn,) = fn.inputs["layers"]
        layer = layers[arn]
        assert layer.inputs["layerName"] == f"sw-dev-deps-{packaging.layer_set_id(needed)}"
        assert layer.inputs["description"].endswith(": " + ", ".join(needed))
        assert layer.inputs["compatibleRuntimes"] == [fn.inputs["runtime"]]
        assert layer.inputs["compatibleArchitectures"] == fn.inputs["architectures"]
    incidents = {tuple(f.inputs["layers"]) for f in functions if ".incidents.handlers." in f.inputs["handler"]}
    assert len(incidents) == 1  # four handlers, one set, one LayerVersion
    (greeting,) = [f for f in functions if f.inputs["handler"] == "pipelines.greeting.handlers.hello"]
    description = layers[greeting.inputs["layers"][0]].inputs["description"]
    assert "psycopg" not in description and "pandas" not in description
    # The intakes load only the input rules: Powertools alone, the layer greeting's function uses.
    intakes = [f for f in functions if f.inputs["handler"].split(".")[2] == "intake"]
    assert len(intakes) == 5 and all(f.inputs["layers"] == greeting.inputs["layers"] for f in intakes)


def test_a_layer_name_follows_the_set_of_packages_not_their_pins():
    assert packaging.layer_set_id(["requests==2.34.2", "urllib3==2.8.0"]) == packaging.layer_set_id(
        ["urllib3==2.9.0", "requests==2.34.2"]
    )
    one, two = ["requests==2.34.2"], ["requests==2.34.2", "urllib3==2.8.0"]
    assert packaging.layer_set_id(one) != packaging.layer_set_id(two)


# --- the build and its cache --------------------------------------------------------------------


def test_the_layer_cache_key_changes_with_the_set_the_pins_python_version_and_architecture():
    lines = ["requests==2.34.2", "urllib3==2.8.0"]
    constraints = "requests==2.34.2\nurllib3==2.8.0\ncertifi==2026.10.18\n"
    base = packaging.layer_inputs_hash(lines, constraints, "3.12", "x86_64")
    assert packaging.layer_inputs_hash(list(reversed(lines)), constraints, "3.12", "x86_64") == base
    assert packaging.layer_inputs_hash(lines[:1], constraints, "3.12", "x86_64") != base
    assert packaging.layer_inputs_hash(lines, constraints.replace("2026.10.18", "2026.11.1"), "3.12", "x86_64") != base
    assert packaging.layer_inputs_hash(lines, constraints, "3.13", "x86_64") != base
    assert packaging.layer_inputs_hash(lines, constraints, "3.12", "arm64") != base


def test_a_cached_layer_is_reused_without_running_pip(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests==2.34.2\nurllib3==2.8.0\n")
    digest = packaging.layer_inputs_hash(
        ["requests==2.34.2"], dependencies.constraints_text(requirements), "3.12", "x86_64"
    )
    cached = tmp_path / "cache" / f"deps-3.12-x86_64-{digest}.zip"
    cached.parent.mkdir()
    cached.write_bytes(b"zip")

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran although the layer was cached")

    monkeypatch.setattr(packaging.subprocess, "run", no_pip)
    built = packaging.build_layer_zip(["requests==2.34.2"], "3.12", "x86_64", requirements, cache_dir=cached.parent)
    assert built == cached


def fake_pip(calls, returncode=0, stderr=""):
    """Stands in for pip: records its arguments and files, installs one module into --target."""

    def run(command, **kwargs):
        arguments = dict(itertools.pairwise(command))
        calls.append(
            {
                "command": command,
                "requirements": Path(arguments["--requirement"]).read_text(),
                "constraints": Path(arguments["--constraint"]).read_text(),
            }
        )
        if returncode == 0:
            target = Path(arguments["--target"])
            (target / "requests").mkdir(parents=True)
            (target / "requests" / "__init__.py").write_text("x" * 100)
        return subprocess.CompletedProcess(command, returncode, "", stderr)

    return run


def test_pip_installs_only_the_set_with_the_whole_file_as_constraints_for_the_lambda_platform(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests==2.34.2\npsycopg[binary]==3.3.9\npython-dateutil==2.9.0.post0\n")
    calls = []
    monkeypatch.setattr(packaging.subprocess, "run", fake_pip(calls))
    built = packaging.build_layer_zip(["requests==2.34.2"], "3.12", "arm64", requirements, cache_dir=tmp_path / "c")
    (call,) = calls
    assert call["requirements"] == "requests==2.34.2\n"
    assert call["constraints"] == "requests==2.34.2\npsycopg==3.3.9\npython-dateutil==2.9.0.post0\n"
    command = call["command"]
    assert "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.12"
    assert "manylinux_2_34_aarch64" in command and not any("x86_64" in arg for arg in command)
    with zipfile.ZipFile(built) as archive:
        assert archive.namelist() == ["python/requests/__init__.py"]
    assert packaging.unzipped_size(built) == 100
    assert sorted(p.name for p in built.parent.iterdir()) == [built.name]


def test_a_failed_pip_run_is_one_line_and_leaves_nothing_under_the_cached_name(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests==2.34.2\n")
    stderr = (
        "WARNING: Retrying (Retry(total=4)) after connection broken\n"
        "ERROR: Could not find a version that satisfies the requirement requests==2.34.2 (from versions: none)\n"
        "ERROR: No matching distribution found for requests==2.34.2\n"
    )
    monkeypatch.setattr(packaging.subprocess, "run", fake_pip([], returncode=1, stderr=stderr))
    cache = tmp_path / "cache"
    with pytest.raises(packaging.PackagingError) as raised:
        packaging.build_layer_zip(["requests==2.34.2"], "3.12", "x86_64", requirements, cache_dir=cache)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("building the dependency layer of requests==2.34.2 for python3.12 x86_64 failed:")
    assert "No matching distribution found for requests==2.34.2" in message
    assert list(cache.iterdir()) == []


# --- the skip switch ----------------------------------------------------------------------------


@pytest.fixture
def builder(tmp_path, monkeypatch):
    """Replaces the real build: records each call and returns a zip path."""
    calls = []

    def build(lines, python_version, architecture, requirements=packaging.LAMBDA_REQUIREMENTS):
        calls.append((tuple(lines), python_version, architecture))
        return tmp_path / f"built-{len(calls)}.zip"

    monkeypatch.setattr(packaging, "build_layer_zip", build)
    return calls


def test_the_old_environment_variable_no_longer_skips_the_build(builder, monkeypatch):
    monkeypatch.setenv("STEPWORKS_SKIP_LAYER_BUILD", "1")
    archive = packaging.dependency_layer_archive(["requests==2.34.2"], "python3.12", "x86_64")
    assert isinstance(archive, pulumi.FileArchive)
    assert builder == [(("requests==2.34.2",), "3.12", "x86_64")]


def test_only_inside_layer_builds_skipped_is_the_build_skipped_and_it_is_restored_on_exit(builder):
    with packaging.layer_builds_skipped():
        with packaging.layer_builds_skipped():
            pass
        assert packaging.layer_builds_are_skipped()
        recorded = packaging.dependency_layer_archive(["requests==2.34.2"], "python3.12", "x86_64")
    assert builder == []
    assert isinstance(recorded, pulumi.AssetArchive)
    assert list(recorded.assets) == ["python/LAYER-NOT-BUILT.txt"]
    assert "requests==2.34.2" in recorded.assets["python/LAYER-NOT-BUILT.txt"].text
    assert not packaging.layer_builds_are_skipped()
    after = packaging.dependency_layer_archive(["requests==2.34.2"], "python3.12", "x86_64")
    assert isinstance(after, pulumi.FileArchive)
    assert len(builder) == 1


def test_the_program_builds_each_distinct_set_unless_its_runner_says_otherwise(builder, monkeypatch):
    monkeypatch.setenv("STEPWORKS_SKIP_LAYER_BUILD", "1")  # has no effect either way
    config = {**load_stack_file("dev"), "stepworks:pipelines": ["greeting", "radar"]}
    skipped = run_program(RecordingMocks(), config, stack="dev")
    assert builder == []
    assert all(isinstance(r.inputs["code"], pulumi.AssetArchive) for r in skipped.of_type(LAYER_TYPE))
    built = run_program(RecordingMocks(), config, stack="dev", build_layers=True)
    expected = {dependencies.handler_requirements(f.inputs["handler"]) for f in built.of_type(FUNCTION_TYPE)}
    assert sorted(lines for lines, _, _ in builder) == sorted(expected)
    assert {(py, arch) for _, py, arch in builder} == {("3.12", "x86_64")}


def test_no_code_reads_the_old_environment_variable():
    sources = [*(packaging.PROJECT_ROOT / "infra").rglob("*.py"), packaging.PROJECT_ROOT / "__main__.py"]
    assert not [p for p in sources if "STEPWORKS_SKIP_LAYER_BUILD" in p.read_text()]


# --- python -m infra layers ---------------------------------------------------------------------


@pytest.fixture
def recorded_dev(dev_program, monkeypatch):
    monkeypatch.setattr(cli_layers, "recorded_program", lambda stack: dev_program)


def test_layers_lists_each_layer_with_its_packages_and_functions(recorded_dev, capsys):
    assert cli.main(["layers"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("sw-dev-deps-")]
    assert len(rows) == 5
    (greeting,) = [row for row in rows if "sw-dev-greeting-hello" in row]
    assert pins()["aws-lambda-powertools"] in greeting and "psycopg" not in greeting
    (incidents,) = [row for row in rows if "sw-dev-incidents-handle-error" in row]
    assert pins()["psycopg"] in incidents and "sw-dev-incidents-handle-error" in incidents


def test_layers_build_reports_sizes_and_fails_over_the_lambda_limit(recorded_dev, monkeypatch, tmp_path, capsys):
    sizes = {}

    def build(lines, python_version, architecture, requirements=packaging.LAMBDA_REQUIREMENTS):
        path = tmp_path / f"{packaging.layer_set_id(lines)}.zip"
        sizes[path] = (300 if any("psycopg" in line for line in lines) else 3) * 2**20
        return path

    monkeypatch.setattr(packaging, "build_layer_zip", build)
    monkeypatch.setattr(packaging, "unzipped_size", lambda path: sizes[path])
    assert cli.main(["layers", "--stack", "dev", "--build"]) == 1
    out = capsys.readouterr().out
    (greeting,) = [row for row in out.splitlines() if "sw-dev-greeting-hello" in row]
    assert "3.0 MB" in greeting and "≤ 250 MB" in greeting
    (incidents,) = [row for row in out.splitlines() if "sw-dev-incidents-handle-error" in row]
    assert "300.0 MB" in incidents and "OVER LIMIT" in incidents


def test_layers_reports_a_failed_build_in_one_line(recorded_dev, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise packaging.PackagingError("building the dependency layer of x==1 for python3.12 x86_64 failed: offline")

    monkeypatch.setattr(packaging, "build_layer_zip", fail)
    assert cli.main(["layers", "--build"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "error: building the dependency layer of x==1 for python3.12 x86_64 failed: offline"
    assert "Traceback" not in err


def test_layers_refuses_an_unknown_stack_in_one_line(capsys):
    assert cli.main(["layers", "--stack", "nosuchstack"]) == 2
    assert capsys.readouterr().err == (
        "error: Pulumi.nosuchstack.yaml does not exist (stack 'nosuchstack' has no configuration); stacks: dev\n"
    )


# --- the real build (downloads wheels) ----------------------------------------------------------


def _dist_infos(names: list[str]) -> dict[str, str]:
    """Normalized distribution name → version, from the layer's ``*.dist-info`` directories."""
    found = {}
    for name in names:
        match = re.match(r"python/([^/]+)-([^-/]+)\.dist-info/", name)
        if match:
            found[dependencies.normalize_name(match[1])] = match[2]
    return found


@pytest.mark.layer
def test_every_real_layer_of_the_dev_stack_is_manylinux_pinned_and_fits_lambda(dev_program, tmp_path, capsys):
    """Builds every distinct set of the dev stack for real (downloads wheels): run by `make test-layer`."""
    by_set: dict[tuple[str, ...], list[str]] = {}
    for fn in dev_program.of_type(FUNCTION_TYPE):
        by_set.setdefault(dependencies.handler_requirements(fn.inputs["handler"]), []).append(fn.inputs["name"])
    pinned = {r.name: r.constraint.split("==")[1] for r in dependencies.read_requirements()}
    code = packaging.code_size()
    report = []
    for lines, functions in sorted(by_set.items()):
        zip_path = packaging.build_layer_zip(lines, "3.12", "x86_64", cache_dir=tmp_path)
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
        dists = _dist_infos(names)
        for requirement in dependencies.read_requirements():
            if requirement.line in lines:
                assert dists.get(requirement.name) == pinned[requirement.name], f"{requirement.line} missing"
        # Transitive dependencies keep the pins of pipelines/requirements.txt.
        assert all(version == pinned[name] for name, version in dists.items() if name in pinned)
        binaries = [n for n in names if n.endswith(".so") or ".so." in n]
        assert not [n for n in binaries if re.search(r"cpython-3(?!12)\d+", n)], "wheels for another Python leaked"
        assert not [n for n in binaries if "aarch64" in n]
        size = packaging.unzipped_size(zip_path)
        assert size + code < packaging.LAMBDA_UNZIPPED_LIMIT_BYTES, f"{lines} unzips to {size / 2**20:.0f} MB"
        if "sw-dev-greeting-hello" in functions:
            assert not [n for n in names if re.match(r"python/(psycopg|pandas|numpy)", n)]
        if any(line.startswith("psycopg[binary]") for line in lines):
            assert any(n.startswith("python/psycopg_binary/") and "cpython-312-x86_64-linux-gnu.so" in n for n in names)
        report.append(f"{size / 2**20:6.1f} MB  {', '.join(lines)}  ({', '.join(sorted(functions))})")
        # A second build with the same inputs is the cached file, untouched.
        mtime = zip_path.stat().st_mtime_ns
        assert packaging.build_layer_zip(lines, "3.12", "x86_64", cache_dir=tmp_path) == zip_path
        assert zip_path.stat().st_mtime_ns == mtime
    with capsys.disabled():
        print(f"\nlayers of the dev stack (python3.12, x86_64), unzipped; function code {code / 2**20:.1f} MB:")
        print("\n".join(report))
