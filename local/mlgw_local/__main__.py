"""``python -m mlgw_local``: see :mod:`mlgw_local.cli`.

The helpers (batch, actuals, invoke) start without importing what serving needs, which takes seconds.
"""

import sys

from mlgw_local.helpers import HELPER_COMMANDS

if sys.argv[1:2] and sys.argv[1] in HELPER_COMMANDS:
    from mlgw_local.helpers import main

    sys.exit(main(sys.argv[1:]))

from mlgw_local.cli import main

sys.exit(main())
