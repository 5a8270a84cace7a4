#!/usr/bin/env python3
"""Turns the core pool benchmark's JSON (bench/core/run.sh) into the README's tables.

Uses the median of the repetitions when there are several, the single run otherwise. Prints
Markdown: uncontended borrow+return cost, throughput, acquire waits, then the speed targets of
issue 3 checked against these numbers. Standard library only.

    python3 bench/core/table.py results.json
"""

import json
import re
import sys

NAME = re.compile(
    r"^pool/(?P<variant>\w+)/size:(?P<size>\d+)/hold_ns:(?P<hold>\d+)/timed:(?P<timed>[01])"
    r"/real_time/threads:(?P<threads>\d+)$"
)
VARIANTS = ("lifeguard", "reference", "textbook", "soci")
TITLES = {"lifeguard": "lifeguard", "reference": "reference", "textbook": "textbook", "soci": "SOCI"}


def load(path):
    """{(variant, size, hold_ns, timed, threads): {counter: value}} from medians (or single runs)."""
    with open(path, encoding="utf-8") as f:
        benchmarks = json.load(f)["benchmarks"]
    has_medians = any(b.get("aggregate_name") == "median" for b in benchmarks)
    results = {}
    for b in benchmarks:
        if has_medians and b.get("aggregate_name") != "median":
            continue
        if not has_medians and b.get("run_type", "iteration") != "iteration":
            continue
        if b.get("error_occurred"):
            continue
        m = NAME.match(b.get("run_name", b["name"]))
        if not m:
            continue
        key = (m["variant"], int(m["size"]), int(m["hold"]), int(m["timed"]), int(m["threads"]))
        results[key] = b
    return results


def present(results):
    return [v for v in VARIANTS if any(k[0] == v for k in results)]


def value(results, variant, size, hold, timed, threads, counter):
    b = results.get((variant, size, hold, timed, threads))
    return None if b is None or counter not in b else float(b[counter])


def cpu_ns_per_pair(b):
    """Google Benchmark's CPU time per iteration (one thread: per borrow+return pair), in ns."""
    if b is None or "cpu_time" not in b:
        return None
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return float(b["cpu_time"]) * scale


def ratio(a, b):
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def fmt(x, scale=1.0, digits=1):
    return "–" if x is None else f"{x * scale:.{digits}f}"


def table(header, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(header), "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def configs(results, timed):
    return sorted({(k[1], k[2], k[4]) for k in results if k[3] == timed}, key=lambda c: (-c[0], c[1], c[2]))


def main(path):
    results = load(path)
    if not results:
        sys.exit(f"{path}: no pool/* results (did the run fail or the filter match nothing?)")
    variants = present(results)
    lg = "lifeguard" if "lifeguard" in variants else None
    # The best-case reference design is not a peer (the targets compare with the peers), but
    # lifeguard's ratio to it is what issue 15 asks for, so it gets a ratio column too.
    peers = [v for v in ("soci", "textbook") if v in variants]
    compared = peers + (["reference"] if "reference" in variants else [])

    def ratios(get):
        return [ratio(get(lg), get(p)) if lg else "–" for p in compared]

    ratio_titles = [f"lifeguard/{TITLES[p]}" for p in compared]
    print("Medians of the repetitions. ops/s: all threads together, from the start barrier to the "
          "last thread's end.\n")

    rows = []
    for size, hold, threads in configs(results, 0):
        ns = lambda v: ns_per_pair(results, v, size, hold, 0, threads)
        cpu = lambda v: cpu_ns_per_pair(results.get((v, size, hold, 0, threads)))
        rows.append([size, hold, threads] + [f"{fmt(ns(v))} / {fmt(cpu(v))}" for v in variants] + ratios(ns))
    if rows:
        print("Borrow + return, no per-operation timing (ns per pair, wall / this thread's CPU; lower is "
              "better; ratios of wall time). Wall above CPU means the thread was preempted.\n")
        print(table(["size", "hold ns", "threads"] + [f"{TITLES[v]} ns" for v in variants] + ratio_titles,
                    rows))
        print()

    rows = []
    for size, hold, threads in configs(results, 1):
        ops = lambda v: value(results, v, size, hold, 1, threads, "ops_per_s")
        rows.append([size, hold, threads] + [fmt(ops(v), 1e-6, 2) for v in variants] + ratios(ops))
    if rows:
        print("Throughput, each acquire timed (million borrow+return pairs per second; higher is better)\n")
        print(table(["size", "hold ns", "threads"] + [f"{TITLES[v]} Mops/s" for v in variants]
                    + ratio_titles, rows))
        print()

        rows = []
        for size, hold, threads in configs(results, 1):
            wait = lambda v, c: value(results, v, size, hold, 1, threads, c)
            cells = [" / ".join([fmt(wait(v, "wait_p99_ns"), 1e-3, 2), fmt(wait(v, "wait_p999_ns"), 1e-3, 1),
                                 fmt(wait(v, "wait_max_ns"), 1e-3, 0)]) for v in variants]
            rows.append([size, hold, threads] + cells + ratios(lambda v: wait(v, "wait_max_ns")))
        print("Acquire wait, p99 / p99.9 / max (µs; lower is better). With more threads than cores a "
              "thread can be preempted while acquiring or while holding, so the tail includes scheduler "
              "delays for every pool; the maximum is mostly the scheduler's.\n")
        print(table(["size", "hold ns", "threads"] + [f"{TITLES[v]} wait" for v in variants]
                    + [f"max {t}" for t in ratio_titles], rows))
        print()

    if lg:
        check_targets(results, peers)
        check_issue15_targets(results)


def check_targets(results, peers):
    """The speed targets of issue 3, each with the numbers it was judged on."""
    print("Targets (issue 3)\n")
    lines = []
    lg_ns = value(results, "lifeguard", 10, 0, 0, 1, "ops_per_s")
    soci_ns = value(results, "soci", 10, 0, 0, 1, "ops_per_s")
    if lg_ns and soci_ns:
        lg_ns, soci_ns = 1e9 / lg_ns, 1e9 / soci_ns
        verdict = "met" if lg_ns <= soci_ns / 2 else "NOT met"
        lines.append(f"- uncontended borrow+return (size 10, 1 thread) at most half of SOCI's: "
                     f"{lg_ns:.1f} ns vs {soci_ns:.1f} ns -> {verdict}")
    contended = [t for t in (8, 16, 32) if ("lifeguard", 2, 1000, 1, t) in results]
    for t in contended:
        ops = {v: value(results, v, 2, 1000, 1, t, "ops_per_s") for v in ["lifeguard"] + peers}
        mx = {v: value(results, v, 2, 1000, 1, t, "wait_max_ns") for v in ["lifeguard"] + peers}
        ok_ops = all(ops[p] is not None and ops["lifeguard"] >= ops[p] for p in peers)
        ok_max = all(mx[p] is not None and mx["lifeguard"] <= mx[p] for p in peers)
        p999 = {v: value(results, v, 2, 1000, 1, t, "wait_p999_ns") for v in ["lifeguard"] + peers}
        detail = ", ".join(f"{TITLES[v]} {ops[v] / 1e6:.2f} M/s, wait p99.9 {fmt(p999[v], 1e-3, 1)} µs "
                           f"max {mx[v] / 1e3:.0f} µs"
                           for v in ["lifeguard"] + peers if ops[v] is not None and mx[v] is not None)
        lines.append(f"- size 2, hold 1 µs, {t} threads: throughput >= peers "
                     f"{'met' if ok_ops else 'NOT met'}, max wait <= peers {'met' if ok_max else 'NOT met'} "
                     f"({detail})")
    if len(contended) > 1:
        series = [value(results, "lifeguard", 2, 1000, 1, t, "ops_per_s") for t in contended]
        # "No collapse": more threads may not cost more than a fifth of the throughput at 8.
        ok = all(s >= 0.8 * series[0] for s in series)
        lines.append(f"- no collapse from {contended[0]} to {contended[-1]} threads (each >= 80% of "
                     f"{contended[0]} threads): " + " -> ".join(f"{s / 1e6:.2f}" for s in series)
                     + f" M/s -> {'met' if ok else 'NOT met'}")
    print("\n".join(lines))


def ns_per_pair(results, variant, size, hold, timed, threads):
    """Wall ns per borrow+return pair of all threads together (1e9 / ops_per_s)."""
    ops = value(results, variant, size, hold, timed, threads, "ops_per_s")
    return None if not ops else 1e9 / ops


def verdict(ok):
    return "–" if ok is None else ("met" if ok else "NOT met")


def check_issue15_targets(results):
    """Issue 15's targets, as ratios to the best-case reference design and to SOCI."""
    lines = []
    for size in (10, 2):
        lg, ref, soci = (ns_per_pair(results, v, size, 0, 0, 1) for v in ("lifeguard", "reference", "soci"))
        if lg is None or (ref is None and soci is None):
            continue
        parts = [f"lifeguard {lg:.1f} ns"]
        if ref is not None:
            parts.append(f"{lg / ref:.2f}x reference ({ref:.1f} ns; target <= 2) {verdict(lg <= 2 * ref)}")
        if soci is not None:
            parts.append(f"{lg / soci:.2f}x SOCI ({soci:.1f} ns; target <= 0.6) {verdict(lg <= 0.6 * soci)}")
        lines.append(f"- size {size}, 1 thread, no hold: " + ", ".join(parts))
    lg, ref, soci = (ns_per_pair(results, v, 1, 0, 1, 8) for v in ("lifeguard", "reference", "soci"))
    if lg is not None and soci is not None:
        lines.append(f"- size 1, 8 threads, no hold: lifeguard {lg:.1f} ns per pair, {lg / soci:.2f}x SOCI "
                     f"({soci:.1f} ns; target <= 1.0) {verdict(lg <= soci)}"
                     + (f", {lg / ref:.2f}x reference ({ref:.1f} ns)" if ref is not None else ""))
    for t in (8, 16, 32):
        lg, soci = (value(results, v, 2, 1000, 1, t, "wait_p999_ns") for v in ("lifeguard", "soci"))
        if lg is not None and soci:
            lines.append(f"- size 2, hold 1 µs, {t} threads: wait p99.9 lifeguard {lg / 1e3:.1f} µs, "
                         f"{lg / soci:.1f}x SOCI's ({soci / 1e3:.1f} µs; target <= 3) {verdict(lg <= 3 * soci)}")
    if lines:
        print("\nTargets (issue 15)\n")
        print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
