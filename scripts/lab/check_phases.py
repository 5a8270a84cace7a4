"""What the short lab must show (scripts/lab.sh --short); exits 1 naming every miss.

  phase 2: Locust saw failures, and Prometheus saw pending > 0 and the timeouts alert firing;
  phase 3: the service's log names the knot, found before any acquire_timeout ran out (the
           detector, not a timeout), with the delay in milliseconds; the deadlock alert fired;
  phase 4: 0 failures; poolsize --prometheus saw both instances, Tn 20 on the first, and
           recommended the worst instance's Tn x (Cm - 1) + 1 (21 with Cm 2); its --check failed
           that fleet on a server with 40 connections.

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
    with open(os.path.join(out, "phase3-login-service.log"), errors="replace") as f:
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

    with open(os.path.join(out, "poolsize.json")) as f:
        sized = json.load(f)
    fleet = sized.get("prometheus", {}).get("instances", [])
    if len({i["instance"] for i in fleet}) != 2:
        misses.append(f"poolsize --prometheus saw {len(fleet)} instance(s), not the fleet of 2: {fleet}")
    # Instance A had 20 users: Tn 20, and Cm at least 2 (the login's nested id), so at least 21.
    # The recommendation is the worst instance's Tn x (Cm - 1) + 1 as Prometheus saw it.
    tasks = max((i["tasks"] for i in fleet), default=0)
    want = max((i["tasks"] * (i["connections_per_task"] - 1) + 1 for i in fleet), default=0)
    if tasks != 20 or sized.get("max_size") != want or want < 21:
        misses.append(f"poolsize --prometheus recommends max_size {sized.get('max_size')} from {fleet}: "
                      f"want Tn 20 on one instance and max_size = max Tn x (Cm - 1) + 1 = {want} >= 21")
    with open(os.path.join(out, "fleet-check.txt")) as f:
        check = f.read()
    if "exit status 3" not in check or "does NOT fit" not in check:
        misses.append("poolsize --check did not fail the fleet on a 40-connection server: " + check[-300:])

    for m in misses:
        print("check_phases: " + m, file=sys.stderr)
    if not misses:
        print(f"check_phases: phase 2 {p2['failures']} failures, pending up to {max(pending):.0f}; phase 3 knot named "
              f"{min(knots):.3f} ms after it closed ({len(knots)} knots); phase 4 {p4['requests']} requests, 0 failures")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
