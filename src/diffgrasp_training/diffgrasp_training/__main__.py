"""``python -m diffgrasp_training`` = ``diffgrasp-train``."""

import sys

from diffgrasp_training.cli import main

sys.exit(main())
