"""CPU and memory quantities (Kubernetes syntax, read by both targets) and container sizes."""

from __future__ import annotations

import re
from decimal import Decimal

from pydantic import field_validator, model_validator

from infra.settings.base import StrictModel
from validation import InvalidValue

_CPU = re.compile(r"^([0-9]+(\.[0-9]+)?)(m?)$")
_MEMORY = re.compile(r"^([0-9]+(\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


# Sane upper bounds: a typo such as "100000" CPUs or "99999999Ti" is refused, not scheduled
# forever (or overflowing Kubernetes' int64 quantities).
MAX_CPU_MILLICORES = Decimal(1024 * 1000)  # 1024 cores
MAX_MEMORY = "16Ti"  # a container's memory
MAX_STORAGE = "1024Ti"  # a volume


def cpu_millicores(key: str, value: str) -> Decimal:
    """A CPU quantity ("250m", "1", "0.5") in millicores; error names the key otherwise."""
    match = _CPU.match(value)
    if not match:
        raise InvalidValue(key, value, 'a CPU quantity such as "250m", "1" or "0.5"')
    amount = Decimal(match.group(1))
    result = amount if match.group(3) else amount * 1000
    if not 1 <= result <= MAX_CPU_MILLICORES:
        raise InvalidValue(key, value, 'a CPU quantity from "1m" to "1024" (cores)')
    return result


def memory_bytes(key: str, value: str, maximum: str = MAX_MEMORY) -> Decimal:
    """A memory/storage quantity ("512Mi", "2Gi", "1G") in bytes, at most `maximum`."""
    match = _MEMORY.match(value)
    if not match:
        raise InvalidValue(
            key, value, 'a quantity such as "512Mi", "2Gi" or "1G" (units Ki Mi Gi Ti k M G T)'
        )
    result = Decimal(match.group(1)) * _MEMORY_UNITS[match.group(3) or ""]
    if result <= 0 or result > int(maximum[:-2]) * _MEMORY_UNITS[maximum[-2:]]:
        raise InvalidValue(key, value, f"a quantity greater than 0 and at most {maximum}")
    return result


_SIZE = re.compile(r"^(0|(\d+)(B|KB|MB|GB|TB|PB|EB))$")
_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")


def retention_size_bytes(size: str) -> int | None:
    """Bytes of Prometheus' `retentionSize` ("0" or "20GB": base-2 units, as Prometheus
    reads them); None when it is not such a size."""
    match = _SIZE.match(size)
    if match is None:
        return None
    if size == "0":
        return 0
    return int(match.group(2)) << (10 * _SIZE_UNITS.index(match.group(3)))


class ComputeResources(StrictModel):
    """requests and limits of one container. Limits must be >= requests."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    @field_validator("cpu_request", "memory_request", "cpu_limit", "memory_limit", mode="before")
    @classmethod
    def _number_as_quantity(cls, value: object) -> object:
        """YAML `cpuLimit: 2` is a number; Kubernetes takes it as the quantity "2"."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> ComputeResources:
        # Keys in the messages are relative to the component (the caller prefixes them).
        cpu_req = cpu_millicores("cpuRequest", self.cpu_request)
        cpu_lim = cpu_millicores("cpuLimit", self.cpu_limit)
        mem_req = memory_bytes("memoryRequest", self.memory_request)
        mem_lim = memory_bytes("memoryLimit", self.memory_limit)
        if cpu_lim < cpu_req:
            raise InvalidValue("cpuLimit", self.cpu_limit, f">= cpuRequest ({self.cpu_request})")
        if mem_lim < mem_req:
            raise InvalidValue(
                "memoryLimit", self.memory_limit, f">= memoryRequest ({self.memory_request})"
            )
        return self


def compute_resources(cpu_req: str, mem_req: str, cpu_lim: str, mem_lim: str) -> ComputeResources:
    """A container's requests and limits, in that order (the defaults' shorthand)."""
    return ComputeResources(
        cpu_request=cpu_req, memory_request=mem_req, cpu_limit=cpu_lim, memory_limit=mem_lim
    )
