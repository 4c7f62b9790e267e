"""``python -m hydra_cnn``: the command line (see :mod:`hydra_cnn.cli`)."""

import sys

from hydra_cnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
