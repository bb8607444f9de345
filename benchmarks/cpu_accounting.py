"""CPU seconds of other local processes, for benchmarks that time worker processes."""
import os


def process_cpu_seconds(pids) -> float:
    """User + system CPU seconds so far of the local processes ``pids`` (Linux ``/proc/PID/stat``)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")
