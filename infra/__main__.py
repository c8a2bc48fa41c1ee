"""`python -m infra synth --stack <name> --out <dir>`: the offline plan (see infra/synth.py);
`python -m infra drill --stack <name>`: the fire drill of a deployed stack (infra/drill.py)."""

import gc
import sys

SYNTH = sys.argv[1:2] == ["synth"]
if SYNTH:
    # A short run that builds large module and object graphs and frees little: the collector's
    # passes would cost about a tenth of its time (benchmarks/synth_scale.py).
    gc.disable()

from infra.synth import main  # noqa: E402

code = main()
if SYNTH:
    # Interpreter shutdown collects everything once more (a third of a second after synth);
    # frozen objects are left out of that pass.
    gc.freeze()
sys.exit(code)
