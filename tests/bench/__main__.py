"""`make bench`: see `tests/bench/suite.py` for what is measured and the options."""

import asyncio
import sys

from tests.bench.suite import main

if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
