"""Where a profiled step's device time goes: the top ops of a `jax.profiler` trace, read on any machine.

    python bench/profile_top_ops.py TRACE [--top 25] [--steps 5] [--json OUT.json]

TRACE is the `*.trace.json.gz` that `jax.profiler` writes beside its
`*.xplane.pb` (`bench/gpu_training.py --profile DIR`, `bench/gpu_check.sh`),
or a folder holding one. The ops are the device's kernels (processes named
`/device:...`); a trace with no device, taken on a CPU as a dry run, falls
back to the ops of XLA's CPU executor threads. Each op: calls, total milliseconds, milliseconds per
step (over `--steps` profiled steps) and share of the device's busy time.
The trace is Chrome's JSON trace format, read with the standard library, so
no profiler package is needed here.
"""

import argparse
import collections
import gzip
import json
import pathlib


def read_trace(path):
    path = pathlib.Path(path)
    if path.is_dir():
        found = sorted(path.rglob("*.trace.json.gz"))
        if not found:
            raise SystemExit(f"{path}: no *.trace.json.gz in it.")
        path = found[-1]
    with gzip.open(path, "rt") as f:
        return json.load(f)["traceEvents"]


def top_ops(events):
    """{op name: [calls, microseconds]} on the device (or XLA's CPU threads), and where they ran."""
    names = {(e["pid"], e.get("tid")): e["args"]["name"] for e in events
             if e.get("ph") == "M" and e.get("name") in ("process_name", "thread_name")}
    processes = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"}
    devices = {pid for pid, name in processes.items() if name.startswith("/device:")}
    if devices:
        kept, where = lambda e: e["pid"] in devices, ", ".join(processes[pid] for pid in sorted(devices))
    else:
        # The executor's own spans wrap the ops: only the ops count.
        kept = lambda e: (names.get((e["pid"], e.get("tid")), "").startswith("tf_XLA")  # noqa: E731
                          and not e["name"].startswith("ThunkExecutor"))
        where = "XLA's CPU threads"
    totals = collections.defaultdict(lambda: [0, 0.0])
    for event in events:
        if event.get("ph") == "X" and kept(event):
            totals[event["name"]][0] += 1
            totals[event["name"]][1] += event.get("dur", 0.0)
    return dict(totals), where


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trace")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--steps", type=int, default=5, help="Steps the trace holds (gpu_training.py: 5).")
    parser.add_argument("--json", help="Also write every op's figures here.")
    args = parser.parse_args(argv)
    totals, where = top_ops(read_trace(args.trace))
    busy = sum(us for _, us in totals.values()) or 1.0
    print(f"{where}: {busy / 1e3:.1f} ms of ops in {args.steps} steps, {busy / 1e3 / args.steps:.2f} ms a step")
    print("| op | calls | ms | ms a step | share |\n| --- | ---: | ---: | ---: | ---: |")
    for name, (calls, us) in sorted(totals.items(), key=lambda item: -item[1][1])[: args.top]:
        print(f"| `{name[:80]}` | {calls} | {us / 1e3:.2f} | {us / 1e3 / args.steps:.3f} | {100 * us / busy:.1f} % |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"where": where, "steps": args.steps, "ops": totals}, f, indent=1)


if __name__ == "__main__":
    main()
