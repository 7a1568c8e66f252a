"""The list of ported tests: each is registered under its upstream ShortName with the upstream
feature list (which decides its profile and whether it is core or extended)."""

TESTS = []


class Test:
    def __init__(self, short_name, features, fn, profiles):
        self.short_name = short_name
        self.features = features
        self.fn = fn
        self.profiles = profiles


CORE = {"GATEWAY-HTTP": {"Gateway", "ReferenceGrant", "HTTPRoute"},
        "GATEWAY-GRPC": {"Gateway", "ReferenceGrant", "GRPCRoute"},
        "GATEWAY-TLS": {"Gateway", "ReferenceGrant", "TLSRoute"}}


def profiles_of(features):
    """The profiles a test belongs to: those whose core features include the test's route kind
    (a test without a route kind, a Gateway-only one, belongs to every profile)."""
    kinds = {"HTTPRoute": "GATEWAY-HTTP", "GRPCRoute": "GATEWAY-GRPC", "TLSRoute": "GATEWAY-TLS"}
    found = [p for k, p in kinds.items() if k in features]
    return found or list(CORE)


ROUTE_KINDS = {"HTTPRoute", "GRPCRoute", "TLSRoute"}

# The extended features kop-ingress implements, as an implementation declares them to the
# upstream suite (its SupportedFeatures): tests written for implementations without a feature
# (TLSRouteListenerTerminateNotSupported...) do nothing when it is here, as upstream. Whether a
# feature is claimed in the report is decided by its tests (report.py), not by this list.
SUPPORTED_FEATURES = {"TLSRouteModeTerminate", "TLSRouteModeMixed"}


def extended_features(test, profile):
    """The test's features beyond the profile's core ones. A route kind is core in its own
    profile, never an extended feature (HTTPRouteDisallowedKind needs HTTPRoute and TLSRoute)."""
    return [f for f in test.features if f not in CORE[profile] and f not in ROUTE_KINDS]


def conformance(short_name, *features):
    def wrap(fn):
        TESTS.append(Test(short_name, list(features), fn, profiles_of(features)))
        return fn
    return wrap
