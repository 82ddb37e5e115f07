"""``python -m vabsnet.cli``."""

import sys

from vabsnet.cli import main

sys.exit(main())
