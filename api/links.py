"""Links to cited spans that work without the API key: a link the service writes carries an expiry and an HMAC
of its path and span, keyed by a server secret, so a browser or a web loader that cannot send the key (Open
WebUI fetching a search result) can open exactly that span, and nothing else. The key never goes in a URL.

Only written when the service has an API key; checked in constant time; an expired or altered link is a 401.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from rag.types import Hit

SIGNED_PATH_PREFIX = "/documents/"


class LinkSigner:
    """Signs and checks span links for ``ttl_seconds``; ``secret`` (bytes) defaults to a random one per process,
    so links stop working when the service restarts unless ``RAG_LINK_SECRET`` is set."""

    def __init__(self, secret: bytes | None = None, ttl_seconds: int = 86_400) -> None:
        self.secret = secret or secrets.token_bytes(32)
        self.ttl_seconds = ttl_seconds

    def _signature(self, path: str, params: Mapping[str, str]) -> str:
        message = path + "?" + "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sig")
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()

    def sign(self, path: str, params: Mapping[str, object], now: float | None = None) -> dict[str, str]:
        """``params`` with ``expires`` and ``sig`` added."""
        signed = {k: str(v) for k, v in params.items()} | {"expires": str(int((now or time.time()) + self.ttl_seconds))}
        return signed | {"sig": self._signature(path, signed)}

    def verify(self, path: str, params: Mapping[str, str], now: float | None = None) -> bool:
        """Whether ``params`` carry an unexpired signature of exactly this path and these parameters."""
        signature, expires = params.get("sig", ""), params.get("expires", "")
        if not path.startswith(SIGNED_PATH_PREFIX) or not signature or not expires.isdigit():
            return False
        if int(expires) < (now or time.time()):
            return False
        return hmac.compare_digest(signature, self._signature(path, params))


def span_link(base_url: str, hit: Hit, signer: LinkSigner | None = None) -> str:
    """The URL of the cited span in its document (``GET /documents/{doc_id}?start=&end=``), signed if a signer is
    given."""
    params: dict[str, object] = {"start": hit.citation.start, "end": hit.citation.end}
    if hit.citation.page:
        params["page"] = hit.citation.page
    if signer is not None:  # signed over the path as the server sees it, decoded
        params = signer.sign(SIGNED_PATH_PREFIX + hit.citation.doc_id, params)
    path = SIGNED_PATH_PREFIX + quote(hit.citation.doc_id, safe="")
    return f"{base_url.rstrip('/')}{path}?{urlencode(params)}"
