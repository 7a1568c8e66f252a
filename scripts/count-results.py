#!/usr/bin/env python3
"""Counts test cases over the given meson build directories and prints `N passed, N failed`.
  count-results.py [--extra NAME=RESULT]... BUILD...

gtest programs (protocol 'gtest') count each test case; other tests count once. A test program
that failed without a failing case in its report (a crash, a timeout) counts as one failure, so
nothing that went wrong disappears from the total."""
import json
import os
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
builds = []
args = iter(sys.argv[1:])
for a in args:
    # --extra NAME=RESULT: a check run outside meson (scripts/tidy), one test; RESULT OK passes.
    if a == "--extra":
        name, _, result = next(args, "=").partition("=")
        if result == "OK":
            passed += 1
        else:
            print(f"{name}: {result or 'no result'}")
            failed += 1
    else:
        builds.append(a)
for build in builds:
    log = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        print(f"{build}: no test log (the build failed before tests ran)")
        failed += 1
        continue
    results = {}
    with open(log) as f:
        for line in f:
            t = json.loads(line)
            results[t["name"]] = t["result"]
    cases = {}  # meson test name -> [passed, failed, skipped]
    junit = os.path.join(build, "meson-logs", "testlog.junit.xml")
    if os.path.exists(junit):
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            parts = suite.get("name", "").split(".")
            for case in suite.iter("testcase"):
                # gtest suites are named project.test.Suite; plain tests are cases named by test.
                name = parts[1] if len(parts) >= 3 else case.get("name")
                c = cases.setdefault(name, [0, 0, 0])
                if case.get("status") == "notrun":
                    continue
                if case.find("failure") is not None or case.find("error") is not None:
                    c[1] += 1
                elif case.find("skipped") is not None:
                    c[2] += 1
                else:
                    c[0] += 1
    for name, result in results.items():
        p, f, s = cases.get(name, [0, 0, 0])
        if result in ("OK", "EXPECTEDFAIL"):
            passed += max(p, 1 if not s else 0)
            skipped += s
        elif result == "SKIP":
            skipped += max(s, 1)
        else:
            if f == 0:
                print(f"{build}: {name} {result} (no failing case reported: crash or timeout)")
            passed += p
            failed += max(f, 1)
            skipped += s
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
