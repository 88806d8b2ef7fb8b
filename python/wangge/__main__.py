"""The ``wangge`` command line from Python: ``python -m wangge ...`` and the ``wangge`` console
script installed by ``pip install .`` run the same command line as the Rust binary."""
import sys

from ._wangge import run_cli


def main() -> None:
    """Runs ``wangge`` with the arguments of this process and exits with its code."""
    sys.exit(run_cli(["wangge", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
