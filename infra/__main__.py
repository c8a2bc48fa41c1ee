"""`python -m infra synth --stack <name> --out <dir>`: the offline plan (see infra/synth.py)."""

import sys

from infra.synth import main

sys.exit(main())
