"""Shared pieces of every benchmark: the machine's description and percentile tables."""

from __future__ import annotations

import os
import platform

import numpy as np
from rich.console import Console
from rich.table import Table


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, Python {platform.python_version()}, {platform.system()}"


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


def print_report(table: Table, console: Console | None = None) -> None:
    console = console or Console(width=max(120, Console().width))
    console.print(table)
    console.print(f"machine: {machine()}")
