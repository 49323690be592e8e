import sys

from deploy.compose.cli import main

sys.exit(main())
