"""`python3 -m deploy.local.launcher ...` (run from the repository root)."""

import sys

from deploy.local.launcher.cli import main

sys.exit(main())
