"""Where training runs: CUDA, MPS or CPU, whether bf16 is worth turning on, and how much memory there is.

bf16 autocast on a CPU without native bf16 instructions is slower than fp32, so ``auto`` turns it
on only where the hardware has it (CUDA with bf16 support, or an x86 CPU flagged ``avx512_bf16`` /
``amx_bf16``). Imports torch lazily: ``llmloop train --plan`` pays for it, ``import llmloop`` does not.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Literal

from llmloop.errors import Unavailable

DeviceKind = Literal["cuda", "mps", "cpu"]


@dataclass(frozen=True)
class Device:
    kind: DeviceKind
    name: str
    bf16_supported: bool
    memory_bytes: int
    """Memory training may use now: free GPU memory, or the host's available RAM."""
    threads: int

    def describe(self) -> str:
        gib = self.memory_bytes / 2**30
        bf16 = "bf16" if self.bf16_supported else "no bf16"
        return f"{self.kind} ({self.name}, {gib:.1f} GiB available, {bf16}, {self.threads} threads)"


def detect_device(wanted: str = "auto", *, threads: int | None = None) -> Device:
    """The device to train on; asking for one that is absent is an error, not a silent CPU fallback.

    ``threads`` caps torch's CPU threads: on a machine shared with other work (or with parallel
    sweep trials), more OpenMP threads than free cores can make each step many times slower.
    """
    import torch

    if threads is not None:
        torch.set_num_threads(threads)

    if wanted in ("auto", "cuda") and torch.cuda.is_available():
        free, _total = torch.cuda.mem_get_info()
        return Device(
            "cuda",
            torch.cuda.get_device_name(0),
            bool(torch.cuda.is_bf16_supported()),
            int(free),
            torch.get_num_threads(),
        )
    if wanted == "cuda":
        raise Unavailable(
            "compute.device is 'cuda' but no CUDA device is visible to torch",
            details={"key": "compute.device"},
        )
    mps = getattr(torch.backends, "mps", None)
    if wanted in ("auto", "mps") and mps is not None and mps.is_available():
        return Device("mps", "Apple MPS", True, available_ram(), torch.get_num_threads())
    if wanted == "mps":
        raise Unavailable(
            "compute.device is 'mps' but MPS is not available", details={"key": "compute.device"}
        )
    return Device("cpu", cpu_name(), cpu_has_bf16(), available_ram(), torch.get_num_threads())


def use_bf16(setting: bool | str, device: Device) -> bool:
    """Resolve ``training.bf16``; asking for bf16 where it is unsupported is an error naming the key."""
    if setting == "auto":
        return device.bf16_supported
    if setting and not device.bf16_supported:
        raise Unavailable(
            f"training.bf16 is true but {device.kind} ({device.name}) has no bf16 support; set it to auto or false",
            details={"key": "training.bf16"},
        )
    return bool(setting)


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_bf16() -> bool:
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "cpu"


def available_ram() -> int:
    """Bytes the OS says a new allocation can get without swapping (MemAvailable), else total RAM."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError):
        return 0


def rss_bytes() -> int:
    """This process's resident memory now (what a training step costs the machine)."""
    try:
        with open("/proc/self/statm", encoding="utf-8") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def peak_rss_bytes() -> int:
    import resource
    import sys

    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak if sys.platform == "darwin" else peak * 1024
