"""`kseq serve` under load on loopback: sentences/s, p50/p99 latency and errors, with and without batching.

    python bench/serve_load.py RUN_DIR [--backend saved_model] [--requests 200]
        [--concurrency 1,8,32] [--data TEST.tsv]

For each setting (dynamic batching on, then off) it starts the server, and at
each concurrency sends `--requests` requests of one sentence each from that
many client threads (bounded loops, plain HTTP), then stops it with SIGTERM.
The baseline is a direct `kseq.load(RUN_DIR, backend).translate([sentence])`
call, one at a time, in this process.
"""

import argparse
import concurrent.futures
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

from kseq.backends import load
from kseq.data import load_corpus, read_tsv
from kseq.run_directory import RunDirectory, write_json


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(run_dir, backend, flags):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "kseq", "serve", run_dir, "--backend", backend,
                                "--port", str(port), *flags], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/v1/models/kseq", timeout=5).read()
            return process, url
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode()[-2000:])
            time.sleep(0.5)
    raise TimeoutError("the server did not start")


def request(url, text):
    """(seconds, ok) of one predict request."""
    body = json.dumps({"instances": [{"text": text}]}).encode()
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url + "/v1/models/kseq:predict", body), timeout=300) as r:
            ok = r.status == 200 and len(json.loads(r.read())["predictions"]) == 1
    except (OSError, ValueError, KeyError):
        ok = False
    return time.perf_counter() - started, ok


def load_loop(url, sentences, concurrency, count):
    texts = [sentences[i % len(sentences)] for i in range(count)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda text: request(url, text), texts))
    seconds = time.perf_counter() - started
    latencies = sorted(latency for latency, _ in results)
    return {"sentences_per_second": round(count / seconds, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
            "errors": sum(not ok for _, ok in results)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--backend", default="saved_model")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--data", help="A TSV file whose sources are sent (default: the run's test split).")
    parser.add_argument("--json", help="Also write the rows here.")
    args = parser.parse_args(argv)

    pairs = read_tsv(args.data) if args.data else load_corpus(RunDirectory(args.run_dir).settings.get("data")).test
    sentences = list(dict.fromkeys(source for source, _ in pairs))
    direct = load(args.run_dir, args.backend)
    direct.translate(sentences[:1])
    latencies = []
    for text in sentences[: min(args.requests, 100)]:
        started = time.perf_counter()
        direct.translate([text])
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    baseline = {"p50_ms": round(1000 * statistics.median(latencies), 1),
                "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)}
    del direct

    rows = []
    for setting, flags in (("batching", []), ("no batching", ["--no-batching"])):
        process, url = start(args.run_dir, args.backend, flags)
        try:
            load_loop(url, sentences, 4, 8)  # warm up: compile the shapes
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                rows.append({"setting": setting, "concurrency": concurrency,
                             **load_loop(url, sentences, concurrency, args.requests)})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)

    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs; backend {args.backend}; "
          f"{args.requests} requests of one sentence per row, loopback.")
    print(f"Direct `kseq.load(...).translate([sentence])`: p50 {baseline['p50_ms']} ms, p99 {baseline['p99_ms']} ms.")
    print("| setting | concurrency | sentences/s | p50 ms | p99 ms | errors |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['setting']} | {row['concurrency']} | {row['sentences_per_second']} | {row['p50_ms']} "
              f"| {row['p99_ms']} | {row['errors']} |")
    if args.json:
        write_json(args.json, {"baseline": baseline, "rows": rows})


if __name__ == "__main__":
    main()
