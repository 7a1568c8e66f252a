#!/usr/bin/env python3
"""Runs the ported Gateway API conformance tests (upstream v1.6.1) against kop-ingress --manifests,
or against an API server with kop-ingress --kubeconfig (--kubeconfig; then
KOP_CONFORMANCE_PREFIX=NAME gives the run's namespaces, GatewayClass and controller names of its
own: harness.py).

  run.py BUILD_DIR [--only NAME[,NAME...]] [--report FILE] [--doc FILE] [--no-budget] [--keep]
         [--kubeconfig FILE] [--wait-cap SECONDS]

Prints one line per upstream test (PASS, FAIL or SKIP with the reason) and exits 1 when a test
listed in claimed.txt fails (or kop-ingress does not exit cleanly). Tests not claimed run too,
with shortened waits (harness.UNCLAIMED_CAP) and within a total time budget, and are reported
without failing the run. --report writes the upstream ConformanceReport (YAML) from the results,
--doc the generated per-feature section of docs/gateway-api/conformance.md.
"""
import argparse
import os
import sys
import time

import harness
import tests_gateway  # noqa: F401  (registers tests)
import tests_httproute  # noqa: F401
import tests_httproute_more  # noqa: F401
import tests_grpc  # noqa: F401
import tests_tls  # noqa: F401
import tests_backendtls  # noqa: F401
from harness import Failure, Skip, say
from report import write_doc, write_report
from registry import TESTS

UNCLAIMED_BUDGET = 75.0  # seconds of the whole run spent on tests that are not claimed


def read_claimed():
    names = []
    with open(os.path.join(harness.HERE, "claimed.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(line)
    return set(names)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--only", default="")
    ap.add_argument("--report", default="")
    ap.add_argument("--doc", default="", help="conformance.md whose generated section to rewrite")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-budget", action="store_true",
                    help="run every unclaimed test to its end (for --report and --doc runs)")
    ap.add_argument("--kubeconfig", default="",
                    help="run against this API server (kubectl apply; kop-ingress --kubeconfig)")
    ap.add_argument("--wait-cap", type=float, default=0,
                    help="cap every wait at this many seconds, claimed tests too (a by-hand run "
                         "looking for differences, not a conformance result)")
    args = ap.parse_args()
    if args.kubeconfig and not os.environ.get("KOP_CONFORMANCE_PREFIX"):
        print("--kubeconfig needs KOP_CONFORMANCE_PREFIX=NAME (names of the run's own on a "
              "shared server)", file=sys.stderr)
        return 2

    claimed = read_claimed()
    known = {t.short_name for t in TESTS}
    unknown = claimed - known
    if unknown:
        print(f"claimed.txt names tests that do not exist: {sorted(unknown)}", file=sys.stderr)
        return 2
    selected = [t for t in TESTS if not args.only or t.short_name in args.only.split(",")]
    # Claimed tests first: they must not lose time to the budget of the others.
    selected.sort(key=lambda t: t.short_name not in claimed)

    run = harness.Run(args.build_dir, keep=args.keep, kubeconfig=args.kubeconfig or None)
    results = {}  # short name -> (PASS|FAIL|SKIP, reason)
    start = time.monotonic()
    unclaimed_spent = 0.0
    try:
        # Set-up waits (GatewayClass Accepted) take the upstream time only when a claimed test
        # depends on them.
        run.cap = None if any(t.short_name in claimed for t in selected) else 15.0
        try:
            run.start_all()
            setup_error = None
        except (Failure, OSError) as e:
            setup_error = f"set-up failed: {e}"
            say(setup_error)
        for t in selected:
            is_claimed = t.short_name in claimed
            if setup_error:
                results[t.short_name] = ("FAIL", setup_error.splitlines()[0])
                continue
            if not is_claimed and not args.no_budget and unclaimed_spent >= UNCLAIMED_BUDGET:
                results[t.short_name] = ("SKIP", "not claimed; over the time budget for "
                                                 "unclaimed tests")
                continue
            run.cap = None if is_claimed else harness.UNCLAIMED_CAP
            if args.wait_cap:
                run.cap = min(run.cap or args.wait_cap, args.wait_cap)
            t0 = time.monotonic()
            try:
                t.fn(run)
                results[t.short_name] = ("PASS", "")
            except Skip as e:
                results[t.short_name] = ("SKIP", str(e))
            except Failure as e:
                results[t.short_name] = ("FAIL", str(e).splitlines()[0][:300])
            except Exception as e:  # a harness bug must not hide the other results
                results[t.short_name] = ("FAIL", f"{type(e).__name__}: {e}"[:300])
            try:
                run.cleanup(t.short_name)
            except Failure as e:
                if results[t.short_name][0] == "PASS":
                    results[t.short_name] = ("FAIL", "cleanup: " + str(e).splitlines()[0])
            spent = time.monotonic() - t0
            if not is_claimed:
                unclaimed_spent += spent
            status, reason = results[t.short_name]
            mark = "claimed" if is_claimed else "not claimed"
            say(f"{status} {t.short_name} ({spent:.1f} s, {mark})" +
                (f": {reason}" if reason else ""))
    finally:
        clean_exit = run.close()

    mode = "--kubeconfig " + args.kubeconfig if args.kubeconfig else "--manifests"
    print(f"\nGateway API conformance v1.6.1 (kop-ingress {mode}):", flush=True)
    failed_claimed = []
    for t in selected:
        status, reason = results.get(t.short_name, ("SKIP", "not run"))
        is_claimed = t.short_name in claimed
        if status != "PASS" and is_claimed:
            failed_claimed.append(t.short_name)
        print(f"{status:4} {t.short_name}{'' if is_claimed else ' (not claimed)'}"
              + (f" -- {reason}" if reason else ""))
    counts = {s: sum(1 for v in results.values() if v[0] == s) for s in ("PASS", "FAIL", "SKIP")}
    print(f"\n{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped; "
          f"{len(claimed)} claimed, {len(failed_claimed)} of them not passing; "
          f"{time.monotonic() - start:.0f} s", flush=True)
    if args.report:
        write_report(args.report, TESTS, results, claimed)
        say(f"wrote {args.report}")
    if args.doc:
        write_doc(args.doc, TESTS, results, claimed)
        say(f"wrote {args.doc}")
    if failed_claimed:
        print("claimed tests not passing: " + ", ".join(failed_claimed))
        return 1
    if not clean_exit:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
