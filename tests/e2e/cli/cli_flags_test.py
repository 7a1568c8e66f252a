#!/usr/bin/env python3
"""Every kop program's command line behaves the same (kop::flags): --help exits 0 and lists each
flag the program had before kop::flags (names unchanged), an unknown flag or a missing value
exits 2 naming it, with the usage line, and a bad value names the flag and the value.

  cli_flags_test.py KOP_INGRESS KOP_LOCAL KOP_PROXY WEBSITE_OPERATOR
"""
import subprocess
import sys

FLAGS = {
    "kop-ingress": ["--kubeconfig", "--manifests", "--install-crds", "--api-addr",
                    "--kube-api-qps", "--kube-api-burst", "--status-qps", "--status-burst",
                    "--cache-sync-timeout",
                    "--http-addr", "--https-addr", "--admin-addr", "--metrics-addr",
                    "--ingress-class", "--watch-ingress-without-class", "--controller-class",
                    "--nginx-annotations", "--publish-service", "--publish-address",
                    "--leader-elect", "--leader-election-namespace", "--leader-election-id",
                    "--leader-election-lease-duration", "--leader-election-renew-deadline",
                    "--leader-election-retry-period", "--gateway-api",
                    "--gateway-controller-name", "--gateway-local-port-offset",
                    "--gateway-service-type", "--gateway-port-range", "--gateway-pod-selector",
                    "--log-format", "--log-level", "--workers", "--server-header"],
    "kop-ingress migrate": ["-f, --filename", "--kubeconfig", "-n, --namespace"],
    "kop-local": ["--listen", "--crds", "--manifests", "--write-kubeconfig", "--insecure-http",
                  "--token"],
    "kop-proxy": ["-c, --config", "--workers"],
    "website-operator": ["--kubeconfig", "--namespace", "--metrics-addr", "--leader-elect",
                         "--leader-election-namespace"],
}
# A flag that takes a value, and one value it refuses, per program.
VALUED = {
    "kop-ingress": ("--workers", "many"),
    "kop-ingress migrate": ("--kubeconfig", None),
    "kop-local": ("--listen", None),
    "kop-proxy": ("--workers", "-1"),
    "website-operator": ("--namespace", None),
}

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def main():
    ingress, local, proxy, website = sys.argv[1:5]
    programs = {"kop-ingress": [ingress], "kop-ingress migrate": [ingress, "migrate"],
                "kop-local": [local], "kop-proxy": [proxy], "website-operator": [website]}
    for name, argv in programs.items():
        for spelling in ("--help", "-h"):
            r = run(argv + [spelling])
            check(r.returncode == 0, f"{name} {spelling} exits 0 (got {r.returncode})")
            check(r.stdout.startswith("usage: " + name), f"{name} {spelling} starts with usage")
            for flag in FLAGS[name]:
                check(f"  {flag}" in r.stdout, f"{name} {spelling} lists {flag}")
            check("  -h, --help" in r.stdout, f"{name} {spelling} lists -h, --help")
        r = run(argv + ["--no-such-flag=1"])
        check(r.returncode == 2, f"{name} --no-such-flag exits 2 (got {r.returncode})")
        check(r.stderr.startswith(f"{name}: unknown flag --no-such-flag\nusage: {name}"),
              f"{name} names the unknown flag, then the usage: {r.stderr[:80]!r}")
        flag, bad = VALUED[name]
        r = run(argv + [flag])
        check(r.returncode == 2 and r.stderr.startswith(f"{name}: {flag} needs a value\n"),
              f"{name} {flag} without a value: exit 2, named ({r.stderr[:60]!r})")
        if bad is not None:
            for form in ([f"{flag}={bad}"], [flag, bad]):
                r = run(argv + form)
                check(r.returncode == 2 and r.stderr.startswith(f"{name}: {flag}: ")
                      and f'"{bad}"' in r.stderr.splitlines()[0],
                      f"{name} {' '.join(form)}: exit 2 naming flag and value "
                      f"({r.stderr[:70]!r})")
    if failures:
        print(f"{len(failures)} failed")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
