"""Renders the lab's picture: the panels a user would look at in Grafana, from Prometheus' HTTP
API and Locust's CSV, as PNGs and one self-contained HTML report (images inlined, no CDN).

    report.py --prometheus URL --out DIR      (DIR holds phases.tsv and Locust's CSV files)
    report.py --again --out DIR               draws again from DIR/series.json (no Prometheus)

Writes DIR/series.json (what was drawn), DIR/<panel>.png, DIR/overview.png, DIR/report.html.
"""
import argparse
import base64
import html
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_data  # noqa: E402

PHASE_SHADES = ["#f2f2f2", "#fde0dd", "#fff3cd", "#e5f5e0"]


def mark_phases(ax, phases, t0):
    top = ax.get_ylim()[1]
    for i, p in enumerate(phases):
        ax.axvspan(p["start"] - t0, p["end"] - t0, color=PHASE_SHADES[i % len(PHASE_SHADES)], zorder=0)
        ax.text(p["start"] - t0 + 1, top * 0.97, f"{p['phase']} {p['title']}", va="top", fontsize=7, color="#444")


GAP_S = 3  # samples further apart than this are not joined (between phases nothing runs)


def line(ax, values, t0, label, colour, step=False, dashed=False, zorder=2):
    """Draws one series; returns how many points it has."""
    xs, ys, previous = [], [], None
    for t, v in values:
        if v is None:
            continue
        if previous is not None and t - previous > GAP_S:
            xs.append(previous - t0 + 0.5)
            ys.append(float("nan"))
        xs.append(t - t0)
        ys.append(v)
        previous = t
    style = {"label": label, "color": colour, "linewidth": 1.2 if dashed else 1.8,
             "linestyle": "--" if dashed else "-", "zorder": zorder}
    if step:
        ax.step(xs, ys, where="post", **style)
    else:
        ax.plot(xs, ys, **style)
    return sum(1 for y in ys if y == y)


def finish(ax, title, ylabel, phases, t0):
    ax.set_xlim(-3, phases[-1]["end"] - t0 + 3)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_xlabel("seconds since the lab started", fontsize=8)
    ax.tick_params(labelsize=7)
    top = max(ax.get_ylim()[1] * 1.15, 1)
    ax.set_ylim(bottom=-0.03 * top, top=top)  # a series at 0 stays visible above the axis
    mark_phases(ax, phases, t0)
    # Outside the plot area, so that the area holds only the series (check_report.py counts them there).
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.grid(alpha=0.3)


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def draw_panels(series, history, phases, t0):
    """[(file stem, title, draw(ax) -> {series: points})]: every panel, drawn the same way in its
    own PNG and in the overview."""
    panels = []
    for key, by_name in sorted(series["pools"].items()):
        def draw(ax, by_name=by_name, key=key):
            counts = {}
            # pending on top: at 0 it would otherwise hide under idle and active
            for z, (name, colour) in enumerate(reversed(lab_data.POOL_SERIES.items())):
                counts[name] = line(ax, by_name.get(name, []), t0, name, colour, step=True, dashed=name == "max",
                                    zorder=2 + z)
            finish(ax, f"pool {key}: connections", "connections", phases, t0)
            return counts
        panels.append((f"pool-{slug(key)}", f"Pool {key}: pending / active / idle / max", draw))

    def locust_panel(index, name, title, unit):
        def draw(ax):
            values = [(t, row[index]) for t, row in history]
            n = line(ax, values, t0, name, lab_data.SINGLE_SERIES_COLOUR[name])
            finish(ax, title, unit, phases, t0)
            return {name: n}
        return draw

    panels.append(("requests", "Requests per second (Locust)", locust_panel(0, "requests", "requests/s", "requests/s")))
    panels.append(("latency", "p95 latency (Locust)", locust_panel(2, "latency", "p95 latency", "ms")))
    panels.append(("failures", "Failures per second (Locust)", locust_panel(1, "failures", "failures/s", "failures/s")))

    def deadlocks(ax):
        counts = {"deadlocks": 0, "timeouts": 0}
        for app, values in sorted(series["deadlocks"].items()):
            counts["deadlocks"] += line(ax, values, t0, f"deadlocks reported ({app})",
                                        lab_data.SINGLE_SERIES_COLOUR["deadlocks"], step=True)
        for app, values in sorted(series["timeouts"].items()):
            counts["timeouts"] += line(ax, values, t0, f"acquire timeouts/s ({app})",
                                       lab_data.SINGLE_SERIES_COLOUR["timeouts"])
        finish(ax, "deadlocks (count since the service started) and acquire timeouts/s", "", phases, t0)
        return counts
    panels.append(("deadlocks", "Deadlocks and acquire timeouts (Prometheus)", deadlocks))
    return panels


def alerts_of(out, phase):
    path = os.path.join(out, f"phase{phase}-alerts.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        alerts = json.load(f)["data"]["alerts"]
    return sorted({f"{a['labels']['alertname']} ({a['state']})" for a in alerts})


def knot_lines(out, phase):
    lines = []
    for name in sorted(os.listdir(out)):
        if name.startswith(f"phase{phase}-login-service") and name.endswith(".log"):
            with open(os.path.join(out, name), errors="replace") as f:
                lines += [l.strip() for l in f if "knot named" in l]
    return lines


def write_html(out, phases, totals, panels, drawn, boxes):
    rows = []
    for p in phases:
        t = totals[p["phase"]]
        reasons = "<br>".join(html.escape(f"{n} x {r}") for r, n in sorted(t["reasons"].items())) or "none"
        alerts = "<br>".join(html.escape(a) for a in alerts_of(out, p["phase"])) or "none"
        p95 = "n/a" if t["p95_ms"] is None else f"{t['p95_ms']:.0f} ms"
        rows.append(
            f"<tr><td>{p['phase']}</td><td>{html.escape(p['title'])}</td><td>{p['pool']}</td><td>{p['users']}</td>"
            f"<td>{html.escape(p['policy'])}</td><td>{t['requests']}</td><td>{t['failures']}</td><td>{p95}</td>"
            f"<td class=small>{reasons}</td><td class=small>{alerts}</td></tr>")
    knots = [l for p in phases for l in knot_lines(out, p["phase"])]
    knot_html = "".join(f"<li><code>{html.escape(l)}</code></li>" for l in knots[:5]) or "<li>none</li>"
    sizing = ""
    for name, heading in (("poolsize.txt", "poolsize --prometheus"), ("fleet-check.txt", "poolsize --check on a 40-connection server")):
        path = os.path.join(out, name)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                sizing += f"<h3>{html.escape(heading)}</h3><pre>{html.escape(f.read())}</pre>"
    figures = []
    for stem, title, _ in panels:
        with open(os.path.join(out, f"{stem}.png"), "rb") as f:
            data = base64.b64encode(f.read()).decode()
        series = ",".join(f"{k}:{v}" for k, v in drawn[stem].items())
        figures.append(f'<figure class="panel" id="panel-{stem}" data-series="{series}" '
                       f'data-plot-box="{boxes[stem]}"><figcaption>'
                       f'{html.escape(title)}</figcaption><img alt="{html.escape(title)}" '
                       f'src="data:image/png;base64,{data}"></figure>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lifeguard load-test lab</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border: 1px solid #ccc; padding: 3px 6px; }}
.small {{ font-size: 11px; }} .panels {{ display: flex; flex-wrap: wrap; gap: 12px; }}
figure.panel {{ margin: 0; border: 1px solid #ddd; padding: 6px; }} figure.panel img {{ width: 560px; }}
figcaption {{ font-weight: bold; font-size: 13px; }} pre {{ font-size: 11px; background: #f7f7f7; padding: 6px; }}
</style></head>
<body data-panels="{len(panels)}">
<h1>lifeguard load-test lab</h1>
<p>login_service over lifeguard, driven by Locust, scraped every second by Prometheus. Phases are shaded in every panel.</p>
<table id="phases"><tr><th>phase</th><th></th><th>pool</th><th>users</th><th>policy</th><th>requests</th><th>failures</th><th>p95</th><th>failures by reason</th><th>alerts at the end</th></tr>
{''.join(rows)}</table>
<h2>What the detector said</h2><ul id="knots">{knot_html}</ul>
<h2>Panels</h2><div class="panels">{''.join(figures)}</div>
<h2>What poolsize made of it</h2><div id="sizing">{sizing or "<p>not run</p>"}</div>
<script>
// Marks the page as rendered once every panel's image has decoded (checked by tests/lab).
window.addEventListener("load", () => {{
  const ok = [...document.querySelectorAll("figure.panel img")].filter(i => i.complete && i.naturalWidth > 0);
  document.body.setAttribute("data-rendered-panels", String(ok.length));
}});
</script>
</body></html>
"""
    with open(os.path.join(out, "report.html"), "w") as f:
        f.write(page)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--prometheus", help="the Prometheus that scraped the lab")
    source.add_argument("--again", action="store_true", help="draw from DIR/series.json")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    phases = lab_data.read_phases(args.out)
    t0 = phases[0]["start"]
    totals = {p["phase"]: lab_data.read_locust_totals(args.out, p["phase"]) for p in phases}
    saved = os.path.join(args.out, "series.json")
    if args.again:
        with open(saved) as f:
            kept = json.load(f)
        series, history = kept["prometheus"], [(t, tuple(row)) for t, row in kept["locust_history"]]
    else:
        series = lab_data.fetch_series(args.prometheus, phases[0]["start"] - 5, phases[-1]["end"] + 5)
        history = [(t, (rps, fps, p95)) for p in phases
                   for t, rps, fps, p95 in lab_data.read_locust_history(args.out, p["phase"])]
        with open(saved, "w") as f:
            json.dump({"phases": phases, "prometheus": series, "locust_history": history, "totals": totals}, f)

    panels = draw_panels(series, history, phases, t0)
    drawn, boxes = {}, {}
    for stem, _, draw in panels:
        fig, ax = plt.subplots(figsize=(9, 3.2), dpi=100)
        drawn[stem] = draw(ax)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, f"{stem}.png"))
        # The plot area in the PNG's pixels (left, top, right, bottom), as saved above.
        box = ax.get_window_extent()
        height = fig.bbox.height
        boxes[stem] = f"{int(box.x0) + 2},{int(height - box.y1) + 2},{int(box.x1) - 2},{int(height - box.y0) - 2}"
        plt.close(fig)
    rows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(14, 3.2 * rows), dpi=90, squeeze=False)
    for ax, (_, _, draw) in zip(axes.flat, panels):
        draw(ax)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "overview.png"), bbox_inches="tight")
    plt.close(fig)
    write_html(args.out, phases, totals, panels, drawn, boxes)
    for stem, _, _ in panels:
        print(f"report: {stem}.png holds " + ", ".join(f"{k} ({v} points)" for k, v in drawn[stem].items()))
    print(f"report: {os.path.join(args.out, 'report.html')}")


if __name__ == "__main__":
    main()
