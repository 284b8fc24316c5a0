"""Official Python client for the AIPROD API.

    from aiprod_client import Client
    client = Client()                      # AIPROD_API_KEY, AIPROD_BASE_URL
    job = client.jobs.create("https://example.com/talk.mp3", type="audio.transcribe")
    job = client.jobs.wait(job["id"])
"""

from aiprod_client import webhooks
from aiprod_client._version import __version__
from aiprod_client.client import Client
from aiprod_client.errors import *  # noqa: F401,F403
from aiprod_client.errors import AiprodError, APIConnectionError, APIError
from aiprod_client.webhooks import WebhookVerificationError

__all__ = ["Client", "webhooks", "WebhookVerificationError", "AiprodError", "APIError", "APIConnectionError",
           "__version__"]
