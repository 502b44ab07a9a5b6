"""Function code holds the pipelines package only; the dependency layer is built for Lambda and cached."""

import zipfile
from pathlib import Path

import pytest

from infra.components import packaging


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


def test_the_real_code_archive_has_every_handler_module_and_no_tests_or_infra():
    paths = sorted(packaging.code_archive().assets)
    assert "pipelines/greeting/handlers.py" in paths
    assert all(p.startswith("pipelines/") for p in paths)
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in paths)


def test_the_layer_cache_key_changes_with_requirements_python_version_and_architecture(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests==2.34.2\n")
    base = packaging.layer_inputs_hash(requirements, "3.12", "x86_64")
    assert packaging.layer_inputs_hash(requirements, "3.12", "x86_64") == base
    assert packaging.layer_inputs_hash(requirements, "3.13", "x86_64") != base
    assert packaging.layer_inputs_hash(requirements, "3.12", "arm64") != base
    requirements.write_text("requests==2.34.1\n")
    assert packaging.layer_inputs_hash(requirements, "3.12", "x86_64") != base


def test_a_cached_layer_is_reused_without_running_pip(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests==2.34.2\n")
    digest = packaging.layer_inputs_hash(requirements, "3.12", "x86_64")
    cached = tmp_path / f"deps-3.12-x86_64-{digest}.zip"
    cached.write_bytes(b"zip")

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran although the layer was cached")

    monkeypatch.setattr(packaging.subprocess, "run", no_pip)
    assert packaging.build_layer_zip(requirements, "3.12", "x86_64", cache_dir=tmp_path) == cached


@pytest.mark.layer
def test_the_real_layer_has_manylinux_requests_psycopg_binary_and_pandas_under_250_mb(tmp_path):
    """Builds the layer for real (downloads wheels): run by .ci/run with `-m layer`."""
    zip_path = packaging.build_layer_zip(packaging.LAMBDA_REQUIREMENTS, "3.12", "x86_64", cache_dir=tmp_path)
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    assert any(n.startswith("python/requests/") for n in names)
    assert any(n.startswith("python/pandas/") for n in names)
    assert any(n.startswith("python/psycopg_binary/") and "cpython-312-x86_64-linux-gnu.so" in n for n in names)
    assert any(n.startswith("python/numpy/") and "cpython-312-x86_64-linux-gnu.so" in n for n in names)
    assert not any("cpython-311" in n for n in names), "wheels for the host Python leaked into the layer"
    size = packaging.unzipped_size(zip_path)
    assert size < packaging.LAMBDA_UNZIPPED_LIMIT_BYTES, f"layer unzips to {size / 2**20:.0f} MB"
    # A second build with the same inputs is the cached file, untouched.
    mtime = Path(zip_path).stat().st_mtime_ns
    assert packaging.build_layer_zip(packaging.LAMBDA_REQUIREMENTS, "3.12", "x86_64", cache_dir=tmp_path) == zip_path
    assert Path(zip_path).stat().st_mtime_ns == mtime
