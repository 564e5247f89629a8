#!/usr/bin/env python3
"""The python sample: an exec job. The host runs `python3 job.py` in the bundle's folder and passes, among others,
  JOBCENTER_RUN_ID       the run's UUID
  JOBCENTER_PARAMS       the job's params as JSON
  JOBCENTER_CONFIG_FILE  a JSON file: { runId, job, params, config: { key: value, ... }, scheduledAt, attempt }
Everything printed goes to the run's log; the last line printed is the run's result; a non-zero exit fails the run.
"""
import json
import os
import statistics
import sys


def read_config():
    path = os.environ.get("JOBCENTER_CONFIG_FILE")
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f).get("config", {})


def main():
    params = json.loads(os.environ.get("JOBCENTER_PARAMS") or "null") or {}
    config = read_config()
    numbers = params.get("numbers", [])
    if not all(isinstance(n, (int, float)) for n in numbers):
        print(f"params.numbers must be a list of numbers, got {numbers!r}", file=sys.stderr)
        return 2
    scale = float(config.get("scale", "1"))
    print(f"run id: {os.environ.get('JOBCENTER_RUN_ID', '<not set>')}")
    print(f"python {sys.version.split()[0]}, scale {scale:g}, {len(numbers)} numbers")
    total = sum(numbers) * scale
    mean = statistics.fmean(numbers) * scale if numbers else 0
    print(f"sum={total:g} mean={mean:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
