"""Every outbound HTTP request to an address a customer chose.

Input-URL preflight (``preflight``), input download (``download``) and webhook
delivery (``post``) all go through this package, so the rules that keep a
customer's URL from reaching this server's own network hold in one place.
One job per module, each using only the ones above it:

* errors.py: :class:`OutboundError` and its :class:`Kind`, what callers branch on;
* policy.py: the settings and the address rules (which targets are public);
* target.py: parse a URL, resolve it once, check every address (``check_url``);
* connection.py: the pinned transport (connect to the checked address, TLS to
  the hostname), the wall-clock deadline, transport-failure classification;
* preflight.py, download.py (+ watchdog.py), delivery.py: the three clients.

Callers use ``from core import outbound`` and the names below.
"""

from .connection import USER_AGENT
from .delivery import PostResult, post
from .download import DownloadResult, download
from .errors import Kind, OutboundError
from .policy import LOCAL_DEVELOPMENT_HINT, is_public_address
from .preflight import PreflightResult, preflight
from .target import check_url

__all__ = [
    "OutboundError",
    "Kind",
    "PreflightResult",
    "DownloadResult",
    "PostResult",
    "check_url",
    "preflight",
    "download",
    "post",
    "is_public_address",
    "LOCAL_DEVELOPMENT_HINT",
    "USER_AGENT",
]
