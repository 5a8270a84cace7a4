"""Checks the lab's picture (scripts/lab.sh's output DIR) with the tools a user opens it with:

  - report.html loads in headless Chromium (Debian's `chromium`, no network): every panel's
    image decodes (the page's own load handler counts them into data-rendered-panels) and the
    panels the lab promises are there;
  - Chromium's screenshot of it is not blank;
  - every PNG holds the series it claims (data-series): pixels of each series' colour, drawn
    by matplotlib, inside that panel's plot area (data-plot-box; the legend is outside it).

    check_report.py DIR      exit 0 when all holds, 1 naming every miss
"""
import os
import re
import subprocess
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lab"))
import lab_data  # noqa: E402

EXPECTED_PANELS = ["requests", "latency", "failures", "deadlocks"]  # plus one "pool-..." per pool
MIN_PIXELS = 40  # a drawn series of a few points covers far more


def chromium(*args):
    cmd = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def colour_of(name):
    table = dict(lab_data.POOL_SERIES, **lab_data.SINGLE_SERIES_COLOUR)
    h = table[name].lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def pixels_of(image, rgb, tolerance=10 / 255):
    r, g, b = (image[..., i] for i in range(3))
    return int(((abs(r - rgb[0]) <= tolerance) & (abs(g - rgb[1]) <= tolerance) & (abs(b - rgb[2]) <= tolerance)).sum())


def main():
    out = sys.argv[1]
    report = os.path.join(out, "report.html")
    misses = []
    if not os.path.exists(report):
        print(f"check_report: no {report}", file=sys.stderr)
        return 1

    dom = chromium("--virtual-time-budget=5000", "--dump-dom", "file://" + os.path.abspath(report))
    if dom.returncode != 0:
        misses.append(f"chromium --dump-dom failed ({dom.returncode}): {dom.stderr[-300:]}")
    body = re.search(r"<body[^>]*>", dom.stdout)
    declared = re.search(r'data-panels="(\d+)"', body.group(0)) if body else None
    rendered = re.search(r'data-rendered-panels="(\d+)"', body.group(0)) if body else None
    if not declared or not rendered:
        misses.append("the page did not finish rendering (no data-rendered-panels on <body>)")
    elif rendered.group(1) != declared.group(1):
        misses.append(f"only {rendered.group(1)} of {declared.group(1)} panel images decoded in Chromium")
    found_panels = re.findall(
        r'<figure class="panel" id="panel-([a-z0-9-]+)" data-series="([^"]*)" data-plot-box="(\d+),(\d+),(\d+),(\d+)"',
        dom.stdout)
    panels = {stem: series for stem, series, *_ in found_panels}
    plot_boxes = {stem: tuple(int(v) for v in box) for stem, _, *box in found_panels}
    for name in EXPECTED_PANELS:
        if name not in panels:
            misses.append(f"panel '{name}' missing from the rendered page")
    if not any(p.startswith("pool-") for p in panels):
        misses.append("no pool panel in the rendered page")

    with tempfile.TemporaryDirectory() as tmp:
        shot = os.path.join(tmp, "shot.png")
        r = chromium("--window-size=1280,2000", f"--screenshot={shot}", "file://" + os.path.abspath(report))
        if r.returncode != 0 or not os.path.exists(shot):
            misses.append(f"chromium --screenshot failed ({r.returncode}): {r.stderr[-300:]}")
        else:
            image = mpimg.imread(shot)
            ink = (image[..., :3].min(axis=2) < 0.9).mean()
            if ink < 0.05:
                misses.append(f"the screenshot is blank ({ink:.1%} of it is not white)")

    for stem, series in panels.items():
        left, top, right, bottom = plot_boxes[stem]
        image = mpimg.imread(os.path.join(out, f"{stem}.png"))[top:bottom, left:right]
        if image.size == 0:
            misses.append(f"{stem}.png: the plot area {plot_boxes[stem]} is empty")
            continue
        for item in series.split(","):
            name, points = item.split(":")
            if int(points) == 0:
                misses.append(f"{stem}.png: series '{name}' has no points")
                continue
            found = pixels_of(image, colour_of(name))
            if found < MIN_PIXELS:
                misses.append(f"{stem}.png: series '{name}' ({points} points) is not drawn ({found} pixels of its colour)")

    for m in misses:
        print("check_report: " + m, file=sys.stderr)
    if not misses:
        print(f"check_report: {len(panels)} panels rendered in Chromium, screenshot not blank, every series drawn")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
