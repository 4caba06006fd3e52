#!/usr/bin/env python3
"""debug_dom_check: checks the DOM headless Chromium dumped (--dump-dom) of
msock-debug's /debug/magicsock after lab_disco_failover: the one peer's
timeline has a DERP lane and a direct lane, and its path marks, in DOM
order (the page draws them by time), show the path going direct, failing
over to DERP, and coming back to the direct path, at non-decreasing times.
Prints what it found; exits 1 with the reason otherwise.
Usage: debug_dom_check.py DOM_FILE"""
import sys
from html.parser import HTMLParser


class Timeline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.timelines = 0
        self.lanes = []  # data-path of each g.lane
        self.marks = []  # (kind, data-path, data-t, data-source) of change/failover marks

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "svg" and "timeline" in classes:
            self.timelines += 1
        if self.timelines != 1 or tag != "g":
            return
        if "lane" in classes:
            self.lanes.append(a.get("data-path", ""))
        if "mark" in classes and ("change" in classes or "failover" in classes):
            kind = "change" if "change" in classes else "failover"
            self.marks.append((kind, a.get("data-path", ""), int(a.get("data-t", "0")),
                               a.get("data-source", "")))


def main():
    p = Timeline()
    with open(sys.argv[1], encoding="utf-8") as f:
        p.feed(f.read())
    print(f"timelines: {p.timelines}; lanes: {' '.join(p.lanes)}")
    for m in p.marks:
        print(f"mark {m[0]:8} {m[1]:28} t={m[2]} ({m[3]})")
    if p.timelines < 1:
        sys.exit("no svg.timeline in the page")
    if not any(x.startswith("derp:") for x in p.lanes):
        sys.exit("no DERP lane")
    if not any(x.startswith("direct:") for x in p.lanes):
        sys.exit("no direct lane")
    times = [m[2] for m in p.marks]
    if times != sorted(times):
        sys.exit("marks not in time order")
    # direct, then a failover, then direct again, in that order.
    want = ["direct", "failover", "direct"]
    got = 0
    for kind, path, _, _ in p.marks:
        if want[got] == "failover" and kind == "failover":
            got += 1
        elif want[got] == "direct" and kind == "change" and path.startswith("direct:"):
            got += 1
        if got == len(want):
            break
    if got < len(want):
        sys.exit(f"marks do not show direct -> failover -> direct (matched {got} of 3)")
    print("DOM: lanes and path marks as expected")


if __name__ == "__main__":
    main()
