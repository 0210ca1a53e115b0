#!/usr/bin/env python3
# Groups `perf report` self time by symbol into the categories BENCHMARKS.md uses.
# usage: scripts/perf-split.py perf.data
import re, sys, subprocess
data = sys.argv[1]
out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,sym", "-g", "none", "--percent-limit", "0"], capture_output=True, text=True).stdout
buckets = [
 ("RSA and hashing (aws-lc)", r"aws_lc|bn_|rsa|RSA|sha256|sha512|SHA|ecp_nistz|bignum"),
 ("SQLite", r"sqlite3|libsqlite"),
 ("PostgreSQL client (sqlx)", r"sqlx_postgres|PgConnection|postgres"),
 ("sea-orm / sqlx / query building", r"sea_orm|sea_query|sqlx"),
 ("HTML parsing and sanitising (ammonia, html5ever)", r"ammonia|html5ever|markup5ever|tendril|pulldown"),
 ("comment policy and text folding", r"policy|unicode_normalization|unicode_security|aho_corasick|regex|decancer|caseless"),
 ("JSON (serde_json)", r"serde_json|serde::"),
 ("HTTP (hyper, axum, reqwest)", r"hyper|axum|h2::|http::|reqwest|httparse|tower"),
 ("page rendering (maud)", r"maud"),
 ("memory (malloc, copies)", r"malloc|free|memcpy|memmove|memset|realloc|_int_|cfree|alloc::"),
 ("tokio scheduling, threads, futex", r"tokio|futex|pthread|sched|epoll|park|crossbeam|parking_lot|flume|std::thread"),
 ("kernel (network, syscalls)", r"\[k\]|kernel"),
]
tot = {}
total = 0.0
for line in out.splitlines():
    m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if not m: continue
    pct = float(m.group(1)); dso = m.group(2); kind = m.group(3); sym = m.group(4)
    key = f"{dso} [{kind}] {sym}"
    total += pct
    for name, pat in buckets:
        if re.search(pat, key):
            tot[name] = tot.get(name, 0) + pct
            break
    else:
        tot["other"] = tot.get("other", 0) + pct
for name, _ in buckets + [("other", "")]:
    if name in tot:
        print(f"| {name} | {tot[name]:.1f} % |")
print(f"(total {total:.1f} %)")
