"""Shared fixtures: the wangge binary and the sample data."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def wangge_bin():
    if os.environ.get("WANGGE_BIN"):
        return os.environ["WANGGE_BIN"]
    exe = ROOT / "target" / "release" / "wangge"
    if not exe.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "wangge"], cwd=ROOT, check=True)
    return str(exe)


@pytest.fixture(scope="session")
def validator():
    """The independent checker of the output contract: the shared copy when present."""
    shared = ROOT.parent / "shared" / "tools" / "validate_partition.py"
    return str(shared if shared.exists() else ROOT / "scripts" / "validate_partition.py")


def run_partition(wangge_bin, out_dir, *args):
    cmd = [wangge_bin, "partition", *map(str, args), "-o", str(out_dir), "-q", "--overwrite"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode in (0, 4), proc.stderr
    return proc
