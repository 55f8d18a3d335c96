"""Who is asking: the console's roles and tokens.

- Bound to a loopback address and given no token file, the console trusts the
  machine's own users: the *local* role reads everything and acts as any
  member whose key is unlocked in the server process.
- Any other bind needs a token file (the server refuses to start without one);
  with a token file every request needs a token, as ``Authorization: Bearer
  TOKEN`` or the ``fedshare_console`` cookie the login form sets. A token names
  its role: ``regulator`` (reads everything, never acts) or ``member NAME``
  (sees what concerns it, acts as NAME when NAME's key is unlocked).

Token file: one ``TOKEN ROLE [MEMBER]`` a line, ``#`` comments; a token is at
least 16 characters.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from typing import Dict, Iterable, Optional

COOKIE = "fedshare_console"


class TokenFileError(ValueError):
    pass


@dataclass(frozen=True)
class Principal:
    role: str                    # "local", "regulator" or "member"
    member: Optional[str] = None  # the member's name for the member role

    @property
    def sees_all(self) -> bool:
        return self.role in ("local", "regulator")

    @property
    def label(self) -> str:
        if self.role == "member" and self.member is not None:
            return self.member
        return self.role

    def may_act_as(self, name: str) -> bool:
        if self.role == "local":
            return True
        return self.role == "member" and self.member == name


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_tokens(path: "str | os.PathLike[str]", members: Iterable[str]) -> Dict[str, Principal]:
    names = set(members)
    out: Dict[str, Principal] = {}
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, start=1):
            t = line.split("#", 1)[0].split()
            if not t:
                continue
            where = f"{os.fspath(path)}:{ln}"
            if len(t[0]) < 16:
                raise TokenFileError(f"{where}: a token is at least 16 characters")
            if t[0] in out:
                raise TokenFileError(f"{where}: the same token twice")
            if len(t) == 2 and t[1] == "regulator":
                out[t[0]] = Principal("regulator")
            elif len(t) == 3 and t[1] == "member":
                if t[2] not in names:
                    raise TokenFileError(f"{where}: {t[2]} is not a member of the consortium")
                out[t[0]] = Principal("member", t[2])
            else:
                raise TokenFileError(f"{where}: expected 'TOKEN regulator' or 'TOKEN member NAME'")
    if not out:
        raise TokenFileError(f"{os.fspath(path)}: no tokens")
    return out


class Auth:
    def __init__(self, tokens: Optional[Dict[str, Principal]]):
        self.tokens = tokens
        self.secret = secrets.token_bytes(32)  # CSRF tokens of this server process

    @property
    def required(self) -> bool:
        return self.tokens is not None

    def principal(self, bearer: Optional[str], cookie: Optional[str]) -> Optional[Principal]:
        if self.tokens is None:
            return Principal("local")
        for given in (bearer, cookie):
            if not given:
                continue
            for tok, p in self.tokens.items():  # constant time per comparison
                if hmac.compare_digest(tok.encode(), given.encode()):
                    return p
        return None

    def csrf(self, p: Principal) -> str:
        return hmac.new(self.secret, f"{p.role}/{p.member}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, p: Principal, given: Optional[str]) -> bool:
        return given is not None and given != "" and hmac.compare_digest(self.csrf(p), given)


__all__ = ["Auth", "Principal", "load_tokens", "is_loopback", "COOKIE", "TokenFileError"]
