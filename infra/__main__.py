"""`python -m infra synth --stack <name> --out <dir>`: the offline plan (see infra/synth.py);
`python -m infra drill --stack <name>`: the fire drill of a deployed stack (infra/drill.py)."""

import sys

from infra.synth import main

sys.exit(main())
