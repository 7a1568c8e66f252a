"""The upstream ConformanceReport (gateway.networking.k8s.io/v1, kind ConformanceReport) made
from a run's results.

Per profile: the core tests are the profile's tests that need no extended feature; an extended
feature is supported (claimed) when every ported test that needs it is in claimed.txt, and the
extended statistics count the tests of the supported features only. Features of the profile
that are not supported are listed as unsupportedFeatures."""
import datetime
import os
import subprocess

import yaml

from registry import CORE, extended_features

# The extended features of each profile at v1.6.1 (upstream pkg/features and the profiles).
GATEWAY_EXTENDED = ["GatewayAddressEmpty", "GatewayFrontendClientCertificateValidation",
                    "GatewayFrontendClientCertificateValidationInsecureFallback",
                    "GatewayHTTPListenerIsolation", "GatewayInfrastructurePropagation",
                    "GatewayPort8080", "GatewayStaticAddresses"]
HTTPROUTE_EXTENDED = [
    "HTTPRoute303RedirectStatusCode", "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode", "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket", "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendTimeout", "HTTPRouteCORS", "HTTPRouteDestinationPortMatching",
    "HTTPRouteHostRewrite", "HTTPRouteMethodMatching", "HTTPRouteNamedRouteRule",
    "HTTPRouteParentRefPort", "HTTPRoutePathRedirect", "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect", "HTTPRouteQueryParamMatching", "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors", "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout", "HTTPRouteResponseHeaderModification", "HTTPRouteRetry",
    "HTTPRouteRetryBackendTimeout", "HTTPRouteRetryConnectionError",
    "HTTPRouteSchemeRedirect"]
BACKEND_TLS = ["BackendTLSPolicy", "BackendTLSPolicySANValidation"]
PROFILE_EXTENDED = {
    "GATEWAY-HTTP": sorted(GATEWAY_EXTENDED + HTTPROUTE_EXTENDED + BACKEND_TLS),
    "GATEWAY-GRPC": sorted(GATEWAY_EXTENDED + ["GRPCRouteNamedRouteRule"]),
    "GATEWAY-TLS": sorted(GATEWAY_EXTENDED + ["TLSRouteModeMixed", "TLSRouteModeTerminate"]),
}
# Upstream tests of the claimed profiles not ported yet, with their features: a feature one of
# them needs is never reported as supported (its upstream test set would not all have run).
NOT_PORTED = {}
# Features v1.6.1 names but has no test for (GEP-1731 plans them): never claimed.
NO_UPSTREAM_TEST = {"HTTPRouteRetryBackendTimeout", "HTTPRouteRetryConnectionError"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))


def _status(names, results):
    passed = [n for n in names if results.get(n, ("SKIP",))[0] == "PASS"]
    failed = sorted(n for n in names if results.get(n, ("SKIP",))[0] == "FAIL")
    skipped = sorted(n for n in names if results.get(n, ("SKIP",))[0] == "SKIP")
    result = "failure" if failed else ("partial" if skipped else "success")
    status = {"result": result,
              "statistics": {"Failed": len(failed), "Passed": len(passed),
                             "Skipped": len(skipped)}}
    if failed:
        status["failedTests"] = failed
    if skipped:
        status["skippedTests"] = skipped
    return status


def profile_report(profile, tests, results, claimed):
    mine = [t for t in tests if profile in t.profiles]
    core = [t.short_name for t in mine if not extended_features(t, profile)]
    by_feature = {}
    for t in mine:
        for f in extended_features(t, profile):
            by_feature.setdefault(f, []).append(t.short_name)
    unported = {f for fs in NOT_PORTED.values() for f in fs}
    supported = sorted(f for f, names in by_feature.items()
                       if f in PROFILE_EXTENDED[profile] and f not in unported and
                       all(n in claimed for n in names))
    unsupported = sorted(f for f in PROFILE_EXTENDED[profile] if f not in supported)
    ext_tests = [t.short_name for t in mine if extended_features(t, profile) and
                 all(f in supported for f in extended_features(t, profile))]
    extended = _status(ext_tests, results)
    if supported:
        extended["supportedFeatures"] = supported
    extended["unsupportedFeatures"] = unsupported
    core_status = _status(core, results)
    s = core_status["statistics"]
    summary = (f"Core tests {core_status['result']}: {s['Passed']} of {len(core)} passed; "
               f"{len(supported)} extended features claimed.")
    return {"name": profile, "summary": summary, "core": core_status, "extended": extended}


ROUTE_KIND = {"GATEWAY-HTTP": "HTTPRoute", "GATEWAY-GRPC": "GRPCRoute", "GATEWAY-TLS": "TLSRoute"}


def ported_profiles(tests):
    """Profiles with at least one ported test of their route kind: a profile whose route tests
    are not ported is not reported (its Gateway-only tests alone say nothing about it)."""
    return [p for p in CORE if any(ROUTE_KIND[p] in t.features for t in tests)]


def version():
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_report(path, tests, results, claimed):
    report = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ConformanceReport",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gatewayAPIVersion": "v1.6.1",
        # The run installs the experimental channel's CRDs (harness.experimental_crds()).
        "gatewayAPIChannel": "experimental",
        "mode": "default",
        "implementation": {
            "organization": "kop",
            "project": "kop-ingress",
            "url": "",  # no public address yet
            "version": version(),
            "contact": [],
        },
        "profiles": [profile_report(p, tests, results, claimed) for p in ported_profiles(tests)],
    }
    with open(path + ".tmp", "w") as f:
        f.write("# Generated by tests/e2e/gateway-api/conformance/run.py --report (kop-ingress "
                "--manifests,\n# the ported upstream v1.6.1 tests); see conformance.md.\n")
        yaml.safe_dump(report, f, sort_keys=False)
    os.replace(path + ".tmp", path)


BEGIN = "<!-- BEGIN generated by run.py --doc: do not edit by hand -->"
END = "<!-- END generated -->"


def _feature_rows(profile, tests, results, claimed):
    mine = [t for t in tests if profile in t.profiles]
    rows = []
    for f in ["(core)"] + PROFILE_EXTENDED[profile]:
        names = [t.short_name for t in mine
                 if (f == "(core)" and not extended_features(t, profile)) or
                 f in extended_features(t, profile)]
        passed = [n for n in names if results.get(n, ("SKIP",))[0] == "PASS"]
        if not names:
            status = "no upstream test at v1.6.1" if f in NO_UPSTREAM_TEST else "not ported"
        elif f == "(core)":
            status = f"{len(passed)}/{len(names)} pass"
        elif any(f in fs for fs in NOT_PORTED.values()):
            status = "not claimed: " + ", ".join(n for n, fs in NOT_PORTED.items() if f in fs) + \
                " is not ported"
        elif all(n in claimed for n in names):
            status = "claimed" if len(passed) == len(names) else \
                f"claimed, {len(names) - len(passed)} failing"
        else:
            status = f"not claimed ({len(passed)}/{len(names)} pass)"
        failing = [f"{n}: {results[n][1]}" for n in names
                   if results.get(n, ("SKIP", ""))[0] != "PASS" and n in results]
        rows.append((f, status, names, failing))
    return rows


def write_doc(path, tests, results, claimed):
    """Replaces the generated section of docs/gateway-api/conformance.md: per profile and
    feature, its tests and their result in this run (the first failure reason of each)."""
    out = [BEGIN, "", f"Run of {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
           f"at `{version()}`.", ""]
    for profile in CORE:
        if profile not in ported_profiles(tests):
            out += [f"### {profile}", "", f"Not ported yet: no {ROUTE_KIND[profile]} test runs, "
                    "so the profile is not in the report.", ""]
            continue
        out += [f"### {profile}", "", "| feature | status | tests |", "|---|---|---|"]
        for f, status, names, _ in _feature_rows(profile, tests, results, claimed):
            shown = ", ".join(f"{n} {results.get(n, ('SKIP',))[0]}" for n in names) or "-"
            out.append(f"| {f} | {status} | {shown} |")
        out.append("")
    out += ["### Why each failing test fails (first reason seen in the run)", ""]
    for t in tests:
        status, reason = results.get(t.short_name, ("SKIP", "not run"))
        if status != "PASS":
            out.append(f"- {t.short_name} ({status}): {reason.replace('|', '/')}")
    out += ["", END]
    with open(path) as f:
        text = f.read()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + "\n".join(out) + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(out) + "\n"
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
