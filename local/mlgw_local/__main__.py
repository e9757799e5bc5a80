"""``python -m mlgw_local``: see :mod:`mlgw_local.cli`."""

import sys

from mlgw_local.cli import main

sys.exit(main())
