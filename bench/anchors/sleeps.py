"""bench/anchors/sleeps.py: Python asyncio's side of the sleep rows of
bench/run, in-process: what a user writes instead of a gatherd batch.

  python3 sleeps.py overhead N MS   asyncio.gather of N asyncio.sleep(MS):
                                    {"overhead_ms": elapsed - MS}
  python3 sleeps.py memory N        N sleeps of a minute in flight:
                                    {"per_job_bytes": RSS added / N,
                                     "hwm_kib": the process's VmHWM}
"""
import asyncio
import json
import os
import sys
import time


def status_kib(field):
    """A field of /proc/self/status, in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return float("nan")


async def overhead(n, ms):
    t0 = time.monotonic()
    await asyncio.gather(*(asyncio.sleep(ms / 1000) for _ in range(n)))
    return (time.monotonic() - t0) * 1000 - ms


async def memory(n):
    idle = status_kib("VmRSS")
    gathered = asyncio.gather(*(asyncio.sleep(60) for _ in range(n)))
    # The tasks take their first step, arming their timers, before this
    # one is back.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    busy = status_kib("VmRSS")
    print(json.dumps({"per_job_bytes": (busy - idle) * 1024 / n,
                      "hwm_kib": status_kib("VmHWM")},
                     separators=(",", ":")), flush=True)
    gathered.cancel()
    os._exit(0)     # a million cancellations would be measured otherwise


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "overhead":
        print(json.dumps({"overhead_ms":
                          asyncio.run(overhead(int(args[1]), int(args[2])))},
                         separators=(",", ":")))
    elif len(args) == 2 and args[0] == "memory":
        asyncio.run(memory(int(args[1])))
    else:
        print("usage: python3 sleeps.py overhead N MS | memory N",
              file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
