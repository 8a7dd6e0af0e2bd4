"""DPoP at a resource server (RFC 9449 section 7): a bound token works only with its key.

A token whose claims hold ``cnf.jkt`` is bound to the client's key. Each request must then
come as ``Authorization: DPoP <token>`` with exactly one ``DPoP`` header: a proof, signed by
that key, for this method and URI, with ``ath`` = the token's hash, not seen before.
``DPoPPolicy.check`` does every check but the replay one (the guard asks its replay cache
last, so that only proofs that passed everything else take room in it):

* a bound token sent as ``Bearer`` (or in a cookie) is ``TokenBindingError("bearer")``: a
  thief who drops the proof must not get in by changing the scheme (section 7.2);
* a token without ``cnf.jkt`` sent as ``DPoP`` is ``TokenBindingError("unbound")``;
* no proof, or two, is ``DPoPProofError``; so is every failed check of ``jose.verify_proof``;
* a proof by another key than ``cnf.jkt`` is ``TokenBindingError("key")`` (section 7.1 answers
  it with ``invalid_token``: the proof is fine, the token is not this key's);
* with a nonce source, a proof without a current nonce is ``DPoPNonceError`` carrying a
  fresh nonce for the ``DPoP-Nonce`` header.

The URI a proof must name is the one the client used. Behind a proxy or load balancer the
service sees another scheme and host than the client did, so ``external_url`` (the public
origin, optionally with a path prefix the proxy strips) replaces them; without it the
request's own scheme and ``Host`` header are used (``ws``/``wss`` handshakes count as
``http``/``https``, their HTTP URI). The path is the raw one the server received, and the
query is never part of it.

The server's side of the comparison is built from parts an attacker sends, so each part is
checked before it is glued into a URI: a ``Host`` that is not a plain authority (reg-name,
IPv4 or ``[IPv6]``, optional ``:port``; no ``/ ? # @ \\``, no spaces) would let the header
choose the path (``Host: other.example/public#`` made ``GET /admin`` match a proof for
``https://other.example/public``), and a target that does not start with ``/`` would be read
as part of the host (``GET .evil.example/x``). Both are refused as ``DPoPProofError("htu")``.
A ``#`` or ``?`` inside the path the server routes on is data, not a delimiter: it is
percent-encoded (``raw_path``, ``decoded_path``) so that nothing after it is cut off.
"""

from collections.abc import Collection, Mapping
from hmac import compare_digest
from typing import NamedTuple

from jotauth import jose
from jotauth.guard.dpop_nonce import NonceSource
from jotauth.guard.errors import TokenBindingError
from jotauth.jose import dpop

__all__ = ["DPoPPolicy", "DPoPRequest", "bound_jkt", "decoded_path", "raw_path"]

_HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
# RFC 3986 3.2.2: unreserved and sub-delims (a reg-name or IPv4), ":" (the port, IPv6) and the
# brackets of an IPv6 literal; jose.normalize_htu then parses it as it parses a proof's htu.
_AUTHORITY_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:[]"
)


class DPoPRequest(NamedTuple):
    """What a DPoP check needs of a request, as every adapter reads it."""

    method: str
    scheme: str
    host: str | None
    path: str
    """The raw path as received (``raw_path``, or ``decoded_path`` of a decoded one), without
    the query: it starts with ``/`` and holds no ``?`` or ``#`` (else the proof is refused)."""
    proofs: tuple[str, ...]
    """Every ``DPoP`` header value (exactly one is accepted)."""


def raw_path(raw: bytes) -> str:
    """A received (still percent-encoded) path's bytes as URI text: a query is cut off at the
    first ``?``; ``#`` (never a delimiter in what a server received) and bytes outside
    printable ASCII become ``%XX`` (the rest is left to ``jose.normalize_htu``)."""
    path = raw.partition(b"?")[0]
    if path.isascii() and b" " not in path and b"#" not in path:
        text = path.decode("ascii")
        if text.isprintable():
            return text
    return "".join(
        chr(byte) if 0x20 < byte < 0x7F and byte != 0x23 else f"%{byte:02X}" for byte in path
    )


def decoded_path(path: bytes) -> str:
    """A percent-decoded path's bytes (WSGI ``PATH_INFO``, ASGI ``path``) as URI text: ``%``,
    ``?`` and ``#`` are data there, so they are encoded again (``/a%3Fb`` reached the app as
    ``/a?b`` and must compare as ``/a%3Fb``, not as ``/a``), as are bytes outside printable
    ASCII."""
    return "".join(
        chr(byte) if 0x20 < byte < 0x7F and byte not in b"%?#" else f"%{byte:02X}" for byte in path
    )


def bound_jkt(cnf: object) -> str | None:
    """The thumbprint a token is bound to, from its ``cnf`` claim (None: not bound).

    A ``cnf`` this guard cannot check (an mTLS ``x5t#S256`` binding, a malformed value) is
    ``InvalidClaimError``: accepting it as an unbound token would void the binding.
    """
    if cnf is None:
        return None
    jkt = cnf.get("jkt") if isinstance(cnf, Mapping) else None
    if type(jkt) is str and jkt:
        return jkt
    raise jose.InvalidClaimError(
        "cnf",
        "invalid",
        'the token is bound ("cnf") in a way this service cannot check; only DPoP key '
        "bindings (cnf.jkt, RFC 9449) are supported",
    )


def _check_host(scheme: str, host: str) -> None:
    """Refuse a ``Host`` that is not exactly an authority (host and optional port)."""
    if not _AUTHORITY_CHARS.issuperset(host):
        raise jose.DPoPProofError(
            "htu", "the Host header is not a valid host[:port]; configure external_url"
        )
    jose.normalize_htu(f"{scheme}://{host}/")  # the port, the IPv6 literal, an empty host


class DPoPPolicy:
    """The guard's DPoP settings, compiled once (``Guard(dpop_...=)``)."""

    __slots__ = ("algorithms", "challenge_algs", "external_url", "max_age", "nonces")

    def __init__(
        self,
        *,
        algorithms: Collection[str] = dpop.DEFAULT_DPOP_ALGS,
        max_age: int = dpop.DEFAULT_MAX_AGE,
        external_url: str | None = None,
        nonces: NonceSource | None = None,
    ) -> None:
        self.algorithms = dpop.check_algorithms(algorithms)
        self.challenge_algs = tuple(a for a in dpop.DEFAULT_DPOP_ALGS if a in self.algorithms)
        if type(max_age) is not int or max_age < 1:
            raise ValueError("dpop_max_age is a whole number of seconds, at least 1")
        self.max_age = max_age
        if external_url is not None:
            base = jose.normalize_htu(external_url)
            if base.endswith("/"):
                base = base[:-1]
            external_url = base
        self.external_url = external_url
        self.nonces = nonces

    def request_uri(self, request: DPoPRequest) -> str:
        """The URI the client sent the request to (see the module docstring).

        Raises ``DPoPProofError`` (check ``htu``) when the request's path or ``Host`` cannot
        be part of a URI without changing what it names.
        """
        path = request.path
        if not path.startswith("/") or "?" in path or "#" in path:
            raise jose.DPoPProofError(
                "htu",
                "the request target must be an absolute path (starting with /, without ? or #)",
            )
        if self.external_url is not None:
            return self.external_url + path
        scheme = _HTTP_SCHEMES.get(request.scheme.lower())
        host = request.host
        if scheme is None or not host:
            raise jose.DPoPProofError(
                "htu", "the service cannot tell this request's URI; configure external_url"
            )
        _check_host(scheme, host)
        return f"{scheme}://{host}{path}"

    def check(
        self, jkt: str | None, token: str, request: DPoPRequest | None, now: float
    ) -> dpop.DPoPProof | None:
        """The verified proof of a DPoP request, None for a plain unbound Bearer token."""
        if request is None:
            if jkt is not None:
                raise TokenBindingError(
                    "bearer",
                    "this token is bound to a key (DPoP): send it as "
                    '"Authorization: DPoP <token>" with a DPoP proof, not as a Bearer token',
                )
            return None
        if jkt is None:
            raise TokenBindingError(
                "unbound",
                'this token is not bound to a key (no "cnf.jkt"); send it as a Bearer token',
            )
        if len(request.proofs) != 1:
            raise jose.DPoPProofError(
                "header",
                "send exactly one DPoP header with a proof"
                if request.proofs
                else "a DPoP-bound token needs a DPoP proof header",
            )
        proof = dpop.verify_proof(
            request.proofs[0],
            htm=request.method,
            htu=self.request_uri(request),
            now=now,
            algorithms=self.algorithms,
            max_age=self.max_age,
            access_token=token,
        )
        if not compare_digest(proof.jkt.encode(), jkt.encode()):
            raise TokenBindingError(
                "key",
                "the DPoP proof is signed with another key than the one the token is bound to",
            )
        nonces = self.nonces
        if nonces is not None:
            nonce = proof.nonce
            if nonce is None or not nonces.accepts(nonce, now):
                raise jose.DPoPNonceError(
                    "this service requires the nonce of its DPoP-Nonce header in the proof"
                    if nonce is None
                    else "the proof's nonce is not current; use the one in DPoP-Nonce",
                    nonce=nonces.current(now),
                )
        return proof
