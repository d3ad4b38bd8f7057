"""The op-level benchmark from a checkout: ``python -m bench.ops [options]`` in the repository
root, the same as ``pytransformer bench [options]`` (see bench/README.md, ``--help``)."""

import sys

from pytransformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
