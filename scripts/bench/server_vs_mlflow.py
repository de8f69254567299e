#!/usr/bin/env python3
"""hone server next to mlflow server: the same workloads over raw keep-alive HTTP.

Starts `mlflow server` (mlflow==3.17.2, sqlite backend, --workers 1; the venv is made by
scripts/bench/setup_mlflow_server.sh into .tools/mlflow-server-venv when missing) and
`hone server` (SQLite store) on free loopback ports, each on a fresh store in a temporary
folder, waits for GET /health on both, then runs against each, with one persistent
http.client.HTTPConnection (not the MLflow client, so client overhead does not dominate):

  1. sequential POST runs/log-metric, for --seconds or --max-requests, whichever comes first → req/s
  2. runs/log-batch of 1,000 metric points (MLflow's limit; 10 keys × 100 steps), repeated
     for --seconds or --max-batches → points/s
  3. 2,000 runs each with a metric `m` (seeded with runs/create + runs/log-batch, not timed),
     then runs/search `metrics.m > 0.5`, max_results 1000: median of 10 → ms
  4. hone only: up to --big-runs runs (default 100,000; seeding stops after --seed-budget
     seconds and the count reached is reported), runs/search ordered by `metrics.m DESC`,
     max_results 100: median of 10 → ms
  5. hone only: --clients concurrent clients (threads, one connection each) logging
     runs/log-metric for --concurrent-seconds → total req/s, errors, p50/p99 latency; every
     acknowledged point is then counted back with metrics/get-history.

Prints a Markdown table (workload | MLflow | hone | ratio) with the machine (cores, kernel,
load average) and writes everything as JSON to --out. Client and servers share the machine.

    python3 scripts/bench/server_vs_mlflow.py --out /tmp/server_vs_mlflow.json
"""
import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
API = "/api/2.0/mlflow/"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive connection; JSON in, JSON out; raises on a non-200."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        if resp.status != 200:
            raise RuntimeError(f"{method} {path} -> {resp.status}: {raw[:300]!r}")
        return json.loads(raw) if raw else {}

    def post(self, endpoint, body):
        return self.call("POST", API + endpoint, body)

    def get(self, endpoint):
        return self.call("GET", API + endpoint)


def wait_health(port, proc, name, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer /health within {timeout} s")


def new_experiment(c):
    return c.post("experiments/create", {"name": "bench-" + uuid.uuid4().hex[:8]})["experiment_id"]


def new_run(c, exp):
    r = c.post("runs/create", {"experiment_id": exp, "start_time": int(time.time() * 1000)})
    return r["run"]["info"]["run_id"]


def now_ms():
    return int(time.time() * 1000)


def bench_log_metric(c, exp, seconds, max_requests):
    run = new_run(c, exp)
    lat = []
    t0 = time.perf_counter()
    i = 0
    while i < max_requests and time.perf_counter() - t0 < seconds:
        s = time.perf_counter()
        c.post("runs/log-metric", {"run_id": run, "key": "loss", "value": 1.0 / (i + 1),
                                   "timestamp": now_ms(), "step": i})
        lat.append(time.perf_counter() - s)
        i += 1
    wall = time.perf_counter() - t0
    lat.sort()
    return {"requests": i, "seconds": wall, "req_per_s": i / wall,
            "p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[int(len(lat) * 0.99)]}


def bench_log_batch(c, exp, seconds, max_batches):
    run = new_run(c, exp)
    n = 0
    lat = []
    t0 = time.perf_counter()
    while n < max_batches and time.perf_counter() - t0 < seconds:
        ts = now_ms()
        metrics = [{"key": f"k{k}", "value": float(s), "timestamp": ts, "step": n * 100 + s}
                   for k in range(10) for s in range(100)]
        s = time.perf_counter()
        c.post("runs/log-batch", {"run_id": run, "metrics": metrics})
        lat.append(time.perf_counter() - s)
        n += 1
    wall = time.perf_counter() - t0
    return {"batches": n, "points": n * 1000, "seconds": wall, "points_per_s": n * 1000 / wall,
            "mean_batch_ms": 1000 * statistics.mean(lat), "max_batch_ms": 1000 * max(lat)}


def seed_runs(port, exp, count, threads, budget_s):
    """Creates up to `count` runs with a metric `m` in [0, 1), `threads` connections at once,
    stopping after budget_s seconds; returns (runs made, seconds)."""
    lock = threading.Lock()
    state = {"next": 0, "done": 0}
    deadline = time.perf_counter() + budget_s
    errors = []

    def work():
        c = Client(port)
        while True:
            with lock:
                if state["next"] >= count or time.perf_counter() > deadline:
                    return
                i = state["next"]
                state["next"] += 1
            try:
                run = new_run(c, exp)
                # a deterministic spread of values in [0, 1)
                v = ((i * 7919) % 10007) / 10007.0
                c.post("runs/log-batch", {"run_id": run, "metrics": [
                    {"key": "m", "value": v, "timestamp": now_ms(), "step": 0}]})
                with lock:
                    state["done"] += 1
            except Exception as e:  # noqa: BLE001 - recorded and reported
                errors.append(str(e))
                if len(errors) > 20:
                    return

    t0 = time.perf_counter()
    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        print(f"  seeding errors: {len(errors)}, first: {errors[0]}", file=sys.stderr)
    return state["done"], time.perf_counter() - t0


def bench_search(c, exp, filt, max_results, order_by=None, reps=10):
    body = {"experiment_ids": [exp], "filter": filt, "max_results": max_results}
    if order_by:
        body["order_by"] = order_by
    times = []
    returned = 0
    for _ in range(reps):
        s = time.perf_counter()
        r = c.post("runs/search", body)
        times.append(time.perf_counter() - s)
        returned = len(r.get("runs", []))
    # sanity: the metric values of what came back (first and last, min over the page)
    vals = [next((m["value"] for m in run["data"].get("metrics", []) if m["key"] == "m"), None)
            for run in r.get("runs", [])]
    vals = [v for v in vals if v is not None]
    return {"returned": returned, "median_ms": 1000 * statistics.median(times),
            "best_ms": 1000 * min(times), "reps": reps, "first_m": vals[0] if vals else None,
            "last_m": vals[-1] if vals else None, "min_m": min(vals) if vals else None}


def bench_concurrent(port, exp, clients, seconds):
    setup = Client(port)
    runs = [new_run(setup, exp) for _ in range(clients)]
    ok = [0] * clients
    errs = [0] * clients
    lats = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    stop = [False]

    def work(i):
        c = Client(port)
        start.wait()
        step = 0
        while not stop[0]:
            s = time.perf_counter()
            try:
                c.post("runs/log-metric", {"run_id": runs[i], "key": "c", "value": float(step),
                                           "timestamp": now_ms(), "step": step})
                ok[i] += 1
                step += 1
            except Exception:  # noqa: BLE001 - counted
                errs[i] += 1
            lats[i].append(time.perf_counter() - s)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop[0] = True
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    all_lat = sorted(x for l in lats for x in l)
    # count every acknowledged point back
    missing = 0
    for i, run in enumerate(runs):
        got = 0
        token = None
        while True:
            q = f"metrics/get-history?run_id={run}&metric_key=c&max_results=25000"
            if token:
                q += f"&page_token={token}"
            r = setup.get(q)
            got += len(r.get("metrics", []))
            token = r.get("next_page_token")
            if not token:
                break
        missing += max(0, ok[i] - got)
    total = sum(ok)
    return {"clients": clients, "seconds": wall, "requests_ok": total, "errors": sum(errs),
            "req_per_s": total / wall, "p50_ms": 1000 * all_lat[len(all_lat) // 2],
            "p99_ms": 1000 * all_lat[int(len(all_lat) * 0.99)], "points_missing": missing}


def hone_binary(arg):
    cands = [arg] if arg else []
    cands.append(os.path.join(ROOT, "target", "release", "hone"))
    if os.environ.get("CARGO_TARGET_DIR"):
        cands.append(os.path.join(os.environ["CARGO_TARGET_DIR"], "release", "hone"))
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    sys.exit(f"no hone binary among {cands}: build it (cargo build --release) or pass --hone")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hone", help="hone binary (default target/release/hone, then $CARGO_TARGET_DIR/release/hone)")
    ap.add_argument("--out", default="server_vs_mlflow.json", help="JSON results")
    ap.add_argument("--seconds", type=float, default=10.0, help="time box of workloads 1 and 2, each")
    ap.add_argument("--max-requests", type=int, default=20000)
    ap.add_argument("--max-batches", type=int, default=1000)
    ap.add_argument("--search-runs", type=int, default=2000)
    ap.add_argument("--big-runs", type=int, default=100000, help="workload 4 (hone only); 0 skips it")
    ap.add_argument("--seed-budget", type=float, default=120.0, help="seconds allowed to seed workload 4")
    ap.add_argument("--seed-threads", type=int, default=4)
    ap.add_argument("--clients", type=int, default=64, help="workload 5 (hone only); 0 skips it")
    ap.add_argument("--concurrent-seconds", type=float, default=20.0)
    ap.add_argument("--skip-mlflow", action="store_true")
    ap.add_argument("--settle", type=float, default=20.0, help="seconds to wait after both servers are up")
    args = ap.parse_args()

    hone = hone_binary(args.hone)
    venv = os.path.join(ROOT, ".tools", "mlflow-server-venv")
    if not args.skip_mlflow:
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "bench", "setup_mlflow_server.sh")], check=True)
    tmp = tempfile.mkdtemp(prefix="hone-vs-mlflow-")
    procs = []
    results = {"machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                           "loadavg_start": os.getloadavg(), "python": platform.python_version()},
               "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "seed_threads": args.seed_threads, "hone": {}, "mlflow": {}}
    try:
        servers = {}
        hp = free_port()
        logf = open(os.path.join(tmp, "hone.log"), "w")
        p = subprocess.Popen([hone, "server", "--port", str(hp), "--store", os.path.join(tmp, "hone.db")],
                             stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(p)
        wait_health(hp, p, "hone server")
        servers["hone"] = hp
        if not args.skip_mlflow:
            mp = free_port()
            env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
            mlog = open(os.path.join(tmp, "mlflow.log"), "w")
            # `python -m mlflow`, not the bin/mlflow script: its shebang names the folder the
            # venv was created in, and breaks when the checkout moves.
            p = subprocess.Popen([os.path.join(venv, "bin", "python"), "-m", "mlflow", "server",
                                  "--backend-store-uri",
                                  f"sqlite:///{tmp}/mlflow.db", "--default-artifact-root", f"{tmp}/mlartifacts",
                                  "--host", "127.0.0.1", "--port", str(mp), "--workers", "1"],
                                 stdout=mlog, stderr=subprocess.STDOUT, env=env, start_new_session=True)
            procs.append(p)
            wait_health(mp, p, "mlflow server", timeout=180)
            servers["mlflow"] = mp
            # `mlflow server` answers /health before its background job consumers (huey) have
            # finished importing; let them settle so they do not eat the CPU of the first workloads.
            print(f"settling {args.settle} s ...", file=sys.stderr, flush=True)
            time.sleep(args.settle)

        for name, port in servers.items():
            c = Client(port)
            exp = new_experiment(c)
            r = results[name]
            r["loadavg_before"] = os.getloadavg()
            print(f"[{name}] 1. sequential log-metric ...", file=sys.stderr, flush=True)
            r["log_metric"] = bench_log_metric(c, exp, args.seconds, args.max_requests)
            print(f"[{name}]    {r['log_metric']}", file=sys.stderr, flush=True)
            print(f"[{name}] 2. log-batch of 1000 ...", file=sys.stderr, flush=True)
            r["log_batch"] = bench_log_batch(c, exp, args.seconds, args.max_batches)
            print(f"[{name}]    {r['log_batch']}", file=sys.stderr, flush=True)
            print(f"[{name}] 3. seeding {args.search_runs} runs ...", file=sys.stderr, flush=True)
            sexp = new_experiment(c)
            made, secs = seed_runs(port, sexp, args.search_runs, args.seed_threads, 600)
            r["seed_search"] = {"runs": made, "seconds": secs}
            r["search_2k"] = bench_search(c, sexp, "metrics.m > 0.5", 1000)
            print(f"[{name}]    seeded {made} in {secs:.1f} s; {r['search_2k']}", file=sys.stderr, flush=True)

        if args.big_runs:
            c = Client(servers["hone"])
            bexp = new_experiment(c)
            print(f"[hone] 4. seeding up to {args.big_runs} runs (budget {args.seed_budget} s) ...",
                  file=sys.stderr, flush=True)
            made, secs = seed_runs(servers["hone"], bexp, args.big_runs, args.seed_threads, args.seed_budget)
            r = results["hone"]
            r["seed_big"] = {"runs": made, "seconds": secs, "runs_per_s": made / secs}
            r["search_big"] = bench_search(c, bexp, "", 100, order_by=["metrics.m DESC"])
            r["search_big"]["runs"] = made
            print(f"[hone]    seeded {made} in {secs:.1f} s; {r['search_big']}", file=sys.stderr, flush=True)
        if args.clients:
            c = Client(servers["hone"])
            cexp = new_experiment(c)
            print(f"[hone] 5. {args.clients} concurrent clients ...", file=sys.stderr, flush=True)
            results["hone"]["concurrent"] = bench_concurrent(servers["hone"], cexp, args.clients,
                                                             args.concurrent_seconds)
            print(f"[hone]    {results['hone']['concurrent']}", file=sys.stderr, flush=True)
    finally:
        for p in procs:  # each server runs in a process group of its own (mlflow: uvicorn, huey)
            try:
                os.killpg(p.pid, 15)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
        results["machine"]["loadavg_end"] = os.getloadavg()
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
        shutil.rmtree(tmp, ignore_errors=True)

    print_table(results)


def print_table(res):
    h, m = res["hone"], res["mlflow"]

    def cell(d, key, field, fmt):
        return fmt.format(d[key][field]) if key in d else "–"

    def ratio(key, field, higher_better):
        if key not in h or key not in m:
            return "–"
        a, b = h[key][field], m[key][field]
        return f"{a / b:.0f}× faster" if higher_better else f"{b / a:.0f}× faster"

    rows = [
        ("sequential `log-metric`, one keep-alive connection (req/s)",
         cell(m, "log_metric", "req_per_s", "{:,.0f}"), cell(h, "log_metric", "req_per_s", "{:,.0f}"),
         ratio("log_metric", "req_per_s", True), "≥ 3,000"),
        ("`log-batch` of 1,000 points (points/s)",
         cell(m, "log_batch", "points_per_s", "{:,.0f}"), cell(h, "log_batch", "points_per_s", "{:,.0f}"),
         ratio("log_batch", "points_per_s", True), "≥ 500,000"),
        (f"`runs/search` `metrics.m > 0.5` over {h.get('seed_search', {}).get('runs', '?'):,} runs, "
         f"{h.get('search_2k', {}).get('returned', '?')} returned (median ms)",
         cell(m, "search_2k", "median_ms", "{:,.1f}"), cell(h, "search_2k", "median_ms", "{:,.1f}"),
         ratio("search_2k", "median_ms", False), "≤ 20"),
    ]
    if "search_big" in h:
        rows.append((f"`runs/search` over {h['search_big']['runs']:,} runs, top 100 by `metrics.m DESC` (median ms)",
                     "–", f"{h['search_big']['median_ms']:,.1f}", "–", "≤ 100"))
    if "concurrent" in h:
        cc = h["concurrent"]
        rows.append((f"{cc['clients']} concurrent clients, `log-metric`, {cc['seconds']:.0f} s (req/s)", "–",
                     f"{cc['req_per_s']:,.0f} (errors {cc['errors']}, p99 {cc['p99_ms']:.0f} ms, "
                     f"missing points {cc['points_missing']})", "–", "–"))
    mi = res["machine"]
    print(f"\n{res['date_utc']}; {mi['cores']} cores, Linux {mi['kernel']}, load average "
          f"{mi['loadavg_start'][0]:.1f} at start, {mi['loadavg_end'][0]:.1f} at end\n")
    print("| workload | MLflow 3.17.2 server | hone server | ratio | goal for hone |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if "seed_big" in h:
        sb = h["seed_big"]
        print(f"\nSeeding (not timed above): hone {sb['runs']:,} runs in {sb['seconds']:.0f} s "
              f"({sb['runs_per_s']:,.0f} runs/s, runs/create + log-batch, "
              f"{res['seed_threads']} client threads)", end="")
        if "seed_search" in m:
            print(f"; MLflow {m['seed_search']['runs']:,} runs in {m['seed_search']['seconds']:.0f} s", end="")
        print(".")


if __name__ == "__main__":
    main()
