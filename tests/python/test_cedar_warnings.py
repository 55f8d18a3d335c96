"""Cedar's validator warnings from libabac (1.3.0): BIDI control characters, mixed scripts and
identifiers outside UTS #39's General Security Profile in a policy's strings, patterns, entity
ids, attribute names and record keys, and impossible policies. They are kept apart from the
errors: validation still passes. cedarpy's ``validate_policies`` does not expose Cedar's
warnings (its result has ``validation_passed``, ``errors`` and ``id_annotations_by_policy_id``
only), so the expected warnings here are written by hand from Cedar's rules and messages; what
is compared with cedarpy is that every one of these policies validates."""
import pytest

from fedshare import abac

cedarpy = pytest.importorskip("cedarpy")

SCHEMA = ("entity User = {name: String};\n"
          "action view appliesTo { principal: User, resource: User };\n")
IMPOSSIBLE = ("ImpossiblePolicy", "policy is impossible: the policy expression evaluates to "
              "false for all valid requests")
CASES = [
    ('permit(principal, action, resource) when { principal.name == "plain" };', []),
    ('permit(principal == User::"alice", action, resource);', []),
    ('permit(principal, action, resource) when { principal.name == "жук" };', []),
    ('permit(principal, action, resource) when { principal.name == "a\u202eb" };',
     [("BidiCharsInString", 'string `"a\u202eb"` contains BIDI control characters')]),
    ('permit(principal, action, resource) when { principal.name == "\u2066x\u2069" };',
     [("BidiCharsInString", 'string `"\u2066x\u2069"` contains BIDI control characters')]),
    ('permit(principal == User::"say_һello", action, resource);',
     [("MixedScriptIdentifier", "identifier `say_һello` contains mixed scripts")]),
    ('permit(principal == User::"alice smith", action, resource);',
     [("ConfusableIdentifier", "identifier `alice smith` contains characters that fall outside "
       "of the General Security Profile for Identifiers")]),
    ('permit(principal == User::"x\u202ey", action, resource);',
     [("BidiCharsInIdentifier", "identifier `x\u202ey` contains BIDI control characters")]),
    ('permit(principal, action, resource) when { principal.name like "*_һello" };',
     [("MixedScriptString", 'string `"*_һello"` contains mixed scripts')]),
    ('permit(principal, action, resource) when { principal.name == "say_һello" };',
     [("MixedScriptString", 'string `"say_һello"` contains mixed scripts')]),
    ('permit(principal, action, resource) when { principal has "nаme" };',   # Cyrillic а
     [("MixedScriptIdentifier", "identifier `nаme` contains mixed scripts"),
      IMPOSSIBLE]),  # User declares no such attribute: `has` types as False
    ('permit(principal, action, resource) when { principal.name == "日本語ひらがな" };', []),
    ('permit(principal, action, resource) when { false };', [IMPOSSIBLE]),
    ('forbid(principal, action, resource) unless { true };', [IMPOSSIBLE]),
    ('permit(principal, action, resource) when { principal.name == "a" && false };',
     [IMPOSSIBLE]),
    ('permit(principal, action, resource) when { principal.name == "a" || true };', []),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_warnings(case):
    text, want = CASES[case]
    res = abac.CedarSchema(SCHEMA).validate(text)
    assert res.passed and not res.errors, res.errors
    assert [(w.kind, w.message) for w in res.warnings] == want
    assert all(w.policy_id == "policy0" and w.line == 1 for w in res.warnings)
    # Cedar validates each of these too: warnings are not errors there either
    assert cedarpy.validate_policies(text, SCHEMA).validation_passed


def test_warnings_keep_policy_order_and_errors_apart():
    text = ('permit(principal, action, resource) when { false };\n'
            'permit(principal, action, resource) when { principal.nope == "say_һello" };\n')
    res = abac.CedarSchema(SCHEMA).validate(text)
    assert not res.passed and [e.policy_id for e in res.errors] == ["policy1"]
    assert [(w.policy_id, w.kind) for w in res.warnings] == [
        ("policy0", "ImpossiblePolicy"), ("policy1", "MixedScriptString")]
    assert not cedarpy.validate_policies(text, SCHEMA).validation_passed
