"""Client-side helpers: what an application that *calls* jotauth-protected APIs needs.

Imports only ``jotauth.jose`` and httpx (the ``guard`` extra), never the server stack.
"""

from jotauth.client.dpop import DPoPAuth

__all__ = ["DPoPAuth"]
