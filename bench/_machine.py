"""How busy the rest of the machine was while we timed something (Linux only).

On a 2-core machine one compile job elsewhere halves a 2-thread kernel's speed, and the
timings look plausible. ``CpuMeter`` compares the CPU time the whole machine spent
(/proc/stat) with the CPU time this process spent (os.times): the difference, as a
share of all cores over the interval, is ``foreign`` -- work by other processes.
Hypervisor ``steal`` is reported separately. Both are 0.0 when /proc/stat is missing.
"""

from __future__ import annotations

import os
import time


def _machine_ticks():
    """(busy, steal) jiffies of all CPUs since boot, or None without /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


class CpuMeter:
    """Context manager: ``wall`` seconds, ``foreign`` and ``steal`` shares in [0, 1]."""

    def __enter__(self):
        self._hz = os.sysconf("SC_CLK_TCK")
        self._ncpu = os.cpu_count() or 1
        self._ticks0 = _machine_ticks()
        self._own0 = os.times()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._t0
        own1, ticks1 = os.times(), _machine_ticks()
        self.foreign = self.steal = 0.0
        if self._ticks0 is None or ticks1 is None or self.wall <= 0:
            return False
        capacity = self._ncpu * self.wall
        own = (own1.user - self._own0.user) + (own1.system - self._own0.system)
        busy = (ticks1[0] - self._ticks0[0]) / self._hz
        self.foreign = min(1.0, max(0.0, (busy - own) / capacity))
        self.steal = min(1.0, max(0.0, (ticks1[1] - self._ticks0[1]) / self._hz / capacity))
        return False


def wait_until_quiet(threshold=0.05, window=1.0, timeout=300.0):
    """Sleep until other processes use less than ``threshold`` of the machine over a
    ``window``-second sample; returns the last share seen (gives up after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        with CpuMeter() as m:
            time.sleep(window)
        if m.foreign < threshold or time.monotonic() > deadline:
            return m.foreign
