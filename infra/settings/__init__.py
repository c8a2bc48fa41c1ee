"""The stack config, parsed and validated once (no Pulumi resources, no target code here).

base.py (pydantic base, the one error formatter) <- resources.py (CPU/memory quantities)
<- docker.py, kubernetes.py (each target's part) <- stack.py (the whole stack config, its
secrets and the ContentSettings derived from it).
"""
