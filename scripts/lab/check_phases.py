"""What the short lab must show (scripts/lab.sh --short); exits 1 naming every miss.

  phase 2: Locust saw failures, and Prometheus saw pending > 0 and the timeouts alert firing;
  phase 3: the service's log names the knot, found before any acquire_timeout ran out (the
           detector, not a timeout), with the delay in milliseconds; the deadlock alert fired;
  phase 4: 0 failures, with a pool at least as large as the safe size measured in phase 3.

    check_phases.py DIR [--prometheus URL]
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_data  # noqa: E402


def firing(out, phase, alertname):
    with open(os.path.join(out, f"phase{phase}-alerts.json")) as f:
        alerts = json.load(f)["data"]["alerts"]
    return any(a["labels"]["alertname"] == alertname and a["state"] == "firing" for a in alerts)


def main():
    out = sys.argv[1]
    misses = []
    phases = {p["phase"]: p for p in lab_data.read_phases(out)}
    with open(os.path.join(out, "series.json")) as f:
        series = json.load(f)

    p2 = lab_data.read_locust_totals(out, 2)
    if p2["failures"] == 0:
        misses.append("phase 2: Locust saw no failures")
    pending = [v for s in series["prometheus"]["pools"].values() for t, v in s.get("pending", [])
               if phases[2]["start"] <= t <= phases[2]["end"] + 1]
    if not pending or max(pending) <= 0:
        misses.append(f"phase 2: Prometheus saw no pending > 0 (max {max(pending, default=None)})")
    if not firing(out, 2, "LifeguardPoolTimeoutsRising"):
        misses.append("phase 2: the alert LifeguardPoolTimeoutsRising was not firing")

    timeout_ms = float(phases[3]["acquire_timeout_ms"])
    with open(os.path.join(out, "phase3-service.log"), errors="replace") as f:
        knots = [float(m.group(1)) for m in re.finditer(r"knot named ([0-9.]+) ms after it closed", f.read())]
    if not knots:
        misses.append("phase 3: the service's log names no knot")
    elif min(knots) >= timeout_ms:
        misses.append(f"phase 3: the knot was named {min(knots)} ms after it closed, not before acquire_timeout "
                      f"({timeout_ms:.0f} ms)")
    if not firing(out, 3, "LifeguardPoolDeadlock"):
        misses.append("phase 3: the alert LifeguardPoolDeadlock was not firing")

    p4 = lab_data.read_locust_totals(out, 4)
    if p4["failures"] != 0:
        misses.append(f"phase 4: {p4['failures']} failures: {p4['reasons']}")
    if p4["requests"] == 0:
        misses.append("phase 4: Locust made no requests")

    for m in misses:
        print("check_phases: " + m, file=sys.stderr)
    if not misses:
        print(f"check_phases: phase 2 {p2['failures']} failures, pending up to {max(pending):.0f}; phase 3 knot named "
              f"{min(knots):.3f} ms after it closed ({len(knots)} knots); phase 4 {p4['requests']} requests, 0 failures")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
