"""What a broker declares about its OAuth 2.0 authorization-code client.

Each broker class that logs in by browser returns one from ``Broker.oauth_client(settings,
secret)``: its authorize, token and revocation URLs (the profile's settings may override them),
audience and scope, the callback port registered for its clients, whether it uses PKCE and
whether its clients have a secret, and how its token endpoint answers. ``oauth.py`` runs the
flow from this alone and never names a broker. Kept apart from ``oauth.py`` so that a broker
module declaring its client does not import the login listener (``http.server``) on every run.
"""

from __future__ import annotations

from typing import NamedTuple

from balancecli.credentials.tokens import TokenAnswer, TokenSlot


class OAuthClient(NamedTuple):
    """One profile's authorization-code client: the broker's declaration, with the client id
    and secret of the profile filled in (``_replace``). A named tuple, as ``TokenRules``."""

    authorize_url: str
    token_url: str
    scope: str
    answer: TokenAnswer  # how the token endpoint answers, and the default lifetime
    slot: TokenSlot = TokenSlot()  # where the tokens are stored
    revoke_url: str | None = None  # RFC 7009
    audience: str | None = None  # an extra authorize parameter (Auth0)
    redirect_port: int = 0  # the callback port registered for the client; 0: any free one
    redirect_path: str = "/"
    pkce: bool = True  # RFC 7636 S256
    has_client_secret: bool = True  # False: a public client, never asked for a secret
    revoke_warning: str | None = None  # said, and confirmed, before a revocation
    client_id: str | None = None
    client_secret: str | None = None
