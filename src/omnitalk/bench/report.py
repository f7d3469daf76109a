"""Shared pieces of every benchmark: the machine's fingerprint, percentile tables, the JSON line."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

# The CPU features that decide how fast the engines run here (AMX and AVX-512 BF16/VNNI above
# all: hosts of one machine kind have differed in exactly these).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile")
GEMM_SIZE = 1024  # float32 matrices of the calibration: big enough to be compute-bound
GEMM_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class Machine:
    """What tells two hosts apart: the CPU as /proc/cpuinfo names it, and one measured figure."""

    cpu_model: str
    cpu_vendor: str
    cpu_family: int | None
    cpu_model_number: int | None
    cpu_stepping: int | None
    cores: int
    cpu_flags: dict[str, bool]
    python: str
    os: str
    gemm_gflops_median: float  # float32 GEMM_SIZE^3 matmul, median over about GEMM_SECONDS

    def summary(self) -> str:
        numbers = " ".join(f"{name} {value}" for name, value in (
            ("family", self.cpu_family), ("model", self.cpu_model_number),
            ("stepping", self.cpu_stepping)) if value is not None)
        present = [flag for flag, here in self.cpu_flags.items() if here]
        absent = [flag for flag, here in self.cpu_flags.items() if not here]
        flags = " ".join(present) or "none of " + " ".join(CPU_FLAGS)
        if present and absent:
            flags += ", no " + " ".join(absent)
        return (f"{self.cpu_model} ({self.cpu_vendor} {numbers}), {self.cores} cores; {flags}; "
                f"Python {self.python}, {self.os}; float32 GEMM {GEMM_SIZE}: "
                f"{self.gemm_gflops_median:.1f} GFLOP/s")


def read_cpuinfo(path: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """The first processor's fields (every core of a host reports the same ones)."""
    fields: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            break
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def gemm_gflops(size: int = GEMM_SIZE, seconds: float = GEMM_SECONDS) -> float:
    """Median GFLOP/s of one fixed float32 matmul repeated for about `seconds`."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # warm-up: BLAS threads start, pages fault in
    rates = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rates) < 3:
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


@functools.cache  # the calibration costs a second: measured once per process
def machine() -> Machine:
    info = read_cpuinfo()
    flags = set(info.get("flags", "").split())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Machine(
        cpu_model=info.get("model name") or platform.processor() or platform.machine(),
        cpu_vendor=info.get("vendor_id", "unknown"),
        cpu_family=_number(info.get("cpu family")),
        cpu_model_number=_number(info.get("model")),
        cpu_stepping=_number(info.get("stepping")),
        cores=cores or 1,
        cpu_flags={flag: flag in flags for flag in CPU_FLAGS},
        python=platform.python_version(),
        os=f"{platform.system()} {platform.release()}",
        gemm_gflops_median=round(gemm_gflops(), 2),
    )


def percentile_table(title: str, columns: dict[str, list[float]], unit: str = "ms") -> Table:
    table = Table(title=title)
    for name in ("stage", "n", f"median {unit}", f"p90 {unit}", f"min {unit}", f"max {unit}"):
        table.add_column(name, justify="left" if name == "stage" else "right")
    for name, values in columns.items():
        if not values:
            table.add_row(name, "0", "-", "-", "-", "-")
            continue
        data = np.asarray(values, dtype=float)
        table.add_row(
            name,
            str(data.size),
            f"{np.median(data):.0f}",
            f"{np.percentile(data, 90):.0f}",
            f"{data.min():.0f}",
            f"{data.max():.0f}",
        )
    return table


def percentile_figures(columns: dict[str, list[float]], unit: str = "ms") -> dict[str, float]:
    """What `percentile_table` shows, as JSON keys like `to_first_audio_ms_median`."""
    figures: dict[str, float] = {}
    for name, values in columns.items():
        figures[f"{name}_count"] = len(values)
        if values:
            data = np.asarray(values, dtype=float)
            figures[f"{name}_{unit}_median"] = float(np.median(data))
            figures[f"{name}_{unit}_p90"] = float(np.percentile(data, 90))
            figures[f"{name}_{unit}_min"] = float(data.min())
            figures[f"{name}_{unit}_max"] = float(data.max())
    return figures


def print_report(table: Table, console: Console | None = None) -> None:
    console = console or Console(width=max(120, Console().width))
    console.print(table)
    console.print(f"machine: {machine().summary()}")


def _plain(value: object) -> object:
    """numpy scalars (a median, a comparison of two) as the Python numbers JSON takes."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def print_json(benchmark: str, figures: dict) -> None:
    """The last line of stdout: the figures and the machine, one JSON object."""
    record = {"benchmark": benchmark, **figures, "machine": dataclasses.asdict(machine())}
    print(json.dumps(record, default=_plain), flush=True)
