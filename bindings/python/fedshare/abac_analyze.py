"""Policy analysis of Cedar policy sets by the Z3 SMT solver (libabac_analyze).

    >>> from fedshare import abac_analyze
    >>> r = abac_analyze.policy_diff(old_text, new_text)          # doctest: +SKIP
    >>> r["verdict"], r["new_permits"]                             # doctest: +SKIP
    ('new_more_permissive', {'request': {...}, 'entities': [...], 'old': 'Deny', 'new': 'Allow'})

``policy_diff(OLD, NEW)`` proves NEW equivalent to OLD, no more permissive, or shows a request
NEW permits and OLD denied (and the reverse); ``policy_check(SET, INVARIANTS)`` proves each
invariant (a Cedar policy: ``forbid`` = never permitted, ``permit`` = every permitted request in
its scope satisfies its condition) or refutes it with a request; ``policy_lint(SET)`` names dead
rules, permits shadowed by forbids and conditions that can raise an error. Requests are Cedar's
JSON, replayed through libabac inside the library before they are returned. The encoding, the
subset of Cedar supported and what is proven: docs/policy-analysis.md.

Each call takes ``schema=`` (a Cedar schema: human-readable text, JSON text, a dict in the JSON
format, or a :class:`fedshare.abac.CedarSchema` built from text): the answers are then about the
requests that schema allows only (appliesTo, attribute types, required and optional attributes,
context types, memberOfTypes, action groups), every request returned conforms to it (checked
by libabac), and the answer has ``"under_schema": True``.

The library is optional (built only where z3 is found, Debian ``libz3-dev``): without it every
call raises :class:`AnalysisUnavailable`. It is looked up in ``fedshare/_analyze/`` (installed
there with the package), then in ``$FEDSHARE_ABAC_ANALYZE_LIB`` (a path), then on the loader's
path.
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any, Dict, Optional

from .errors import Error, InvalidInputError

__all__ = ["policy_diff", "policy_check", "policy_lint", "available", "AnalysisUnavailable",
           "UnsupportedPolicyError", "AnalysisError"]

_CDEF = """
int abac_analyze_diff(const char *old_src, size_t old_len, const char *new_src,
                      size_t new_len, unsigned timeout_ms, char **json_out,
                      char *err_msg, size_t err_cap);
int abac_analyze_check(const char *src, size_t len, const char *inv_src, size_t inv_len,
                       unsigned timeout_ms, char **json_out, char *err_msg, size_t err_cap);
int abac_analyze_lint(const char *src, size_t len, unsigned timeout_ms, char **json_out,
                      char *err_msg, size_t err_cap);
int abac_analyze_diff_schema(const char *old_src, size_t old_len, const char *new_src,
                             size_t new_len, const char *schema, size_t schema_len,
                             unsigned timeout_ms, char **json_out, char *err_msg, size_t err_cap);
int abac_analyze_check_schema(const char *src, size_t len, const char *inv_src, size_t inv_len,
                              const char *schema, size_t schema_len, unsigned timeout_ms,
                              char **json_out, char *err_msg, size_t err_cap);
int abac_analyze_lint_schema(const char *src, size_t len, const char *schema, size_t schema_len,
                             unsigned timeout_ms, char **json_out, char *err_msg, size_t err_cap);
void abac_analyze_free(char *json);
"""

E_SYNTAX = -402
E_SCHEMA = -404
E_UNSUPPORTED, E_UNKNOWN, E_REPLAY = -480, -481, -482


class AnalysisUnavailable(Error):
    """libabac_analyze is not built here (z3 was missing at build time)."""


class UnsupportedPolicyError(InvalidInputError):
    """The policies use Cedar outside the subset the analysis encodes."""


class AnalysisError(Error):
    """The solver gave no answer (time limit) or a replay disagreed (a bug: nothing proven)."""


_lock = threading.Lock()
_handle: Optional[tuple] = None


def _candidates():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_analyze")
    yield os.path.join(here, "libabac_analyze.so")
    env = os.environ.get("FEDSHARE_ABAC_ANALYZE_LIB")
    if env:
        yield env
    yield "libabac_analyze.so"


def _load():
    global _handle
    with _lock:
        if _handle is None:
            import cffi  # type: ignore[import-untyped]

            ffi = cffi.FFI()
            ffi.cdef(_CDEF)
            errors = []
            for path in _candidates():
                if os.sep in path and not os.path.exists(path):
                    continue
                try:
                    _handle = (ffi, ffi.dlopen(path))
                    break
                except OSError as exc:
                    errors.append(f"{path}: {exc}")
            if _handle is None:
                raise AnalysisUnavailable(
                    "policy analysis is not available: libabac_analyze was not built (it needs "
                    "z3: Debian libz3-dev) or is not found; set FEDSHARE_ABAC_ANALYZE_LIB to its "
                    "path" + ("; tried " + "; ".join(errors) if errors else ""))
        return _handle


def available() -> bool:
    """True if libabac_analyze can be loaded."""
    try:
        _load()
        return True
    except AnalysisUnavailable:
        return False


def _text(x: Any) -> bytes:
    if hasattr(x, "text"):
        x = x.text
    if isinstance(x, str):
        return x.encode()
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    raise TypeError("policy text must be str or bytes")


def _schema_text(schema: Any) -> Optional[bytes]:
    """A schema as text for the library: str/bytes (JSON or the human syntax), a dict (the JSON
    format) or an object with the text it was read from (``.text``)."""
    if schema is None:
        return None
    if isinstance(schema, dict):
        return json.dumps(schema).encode()
    t = getattr(schema, "text", None)
    if isinstance(t, str):
        return t.encode()
    if isinstance(schema, str):
        return schema.encode()
    if isinstance(schema, (bytes, bytearray)):
        return bytes(schema)
    raise TypeError("schema must be Cedar schema text (str/bytes), a dict in Cedar's JSON "
                    "schema format, or a CedarSchema read from one")


def _call(fn: str, *texts: Optional[bytes], timeout_ms: int) -> Dict[str, Any]:
    ffi, lib = _load()
    out = ffi.new("char **")
    msg = ffi.new("char[]", 512)
    args: list = []
    for t in texts:
        args += [ffi.NULL, 0] if t is None else [t, len(t)]
    rc = getattr(lib, fn)(*args, timeout_ms, out, msg, 512)
    if rc != 0:
        text = ffi.string(msg).decode(errors="replace")
        if rc == E_UNSUPPORTED:
            raise UnsupportedPolicyError(text, code=rc, library="abac")
        if rc in (E_UNKNOWN, E_REPLAY):
            raise AnalysisError(text, code=rc, library="abac")
        if rc == E_SYNTAX:
            from .abac import PolicyError

            raise PolicyError(text, code=rc, library="abac", detail=text)
        if rc == E_SCHEMA:
            from .abac import PolicyError

            raise PolicyError(text, code=rc, library="abac", detail=text)
        raise InvalidInputError(text or f"libabac_analyze: code {rc}", code=rc, library="abac")
    try:
        return json.loads(ffi.string(out[0]).decode())
    finally:
        lib.abac_analyze_free(out[0])


def policy_diff(old: Any, new: Any, *, schema: Any = None,
                timeout_ms: int = 60000) -> Dict[str, Any]:
    """Compare two policy sets (Cedar text or :class:`fedshare.abac.CedarPolicies`).

    Returns ``{"verdict": …, "new_permits": R or None, "old_permits": R or None,
    "under_schema": bool}``; verdict is ``"equivalent"``, ``"new_more_permissive"``,
    ``"new_less_permissive"`` or ``"incomparable"``; R is ``{"request": …, "entities": […],
    "confirmed": bool, "old": …, "new": …}``. ``confirmed`` is False only for a possible
    difference that relies on attributes of an entity reached through an attribute and that
    libabac's replay did not reproduce (docs/policy-analysis.md); every other R was replayed.
    Counterexamples and error examples of :func:`policy_check` / :func:`policy_lint` carry
    ``confirmed`` too. With ``schema`` only the requests it allows are compared.
    """
    return _call("abac_analyze_diff_schema", _text(old), _text(new), _schema_text(schema),
                 timeout_ms=timeout_ms)


def policy_check(policies: Any, invariants: Any, *, schema: Any = None,
                 timeout_ms: int = 60000) -> Dict[str, Any]:
    """Prove or refute invariants (Cedar policies, see the module text) for a policy set.

    Returns ``{"invariants": [{"id", "kind", "holds", "counterexample"}, …], "all_hold",
    "under_schema"}``. With ``schema`` an invariant is proven for the requests it allows.
    """
    return _call("abac_analyze_check_schema", _text(policies), _text(invariants),
                 _schema_text(schema), timeout_ms=timeout_ms)


def policy_lint(policies: Any, *, schema: Any = None, timeout_ms: int = 60000) -> Dict[str, Any]:
    """Dead policies, shadowed permits and conditions that may raise an error:
    ``{"policies": [{"id", "effect", "dead", "shadowed", "may_error", "error_example"}, …],
    "under_schema"}``; with ``schema``, only errors possible for requests it allows."""
    return _call("abac_analyze_lint_schema", _text(policies), _schema_text(schema),
                 timeout_ms=timeout_ms)
