"""`python -m dockyard …` is the `dockyard` command."""

import sys

from dockyard.cli.main import main

sys.exit(main())
