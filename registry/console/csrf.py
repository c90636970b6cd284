"""Cross-site request forgery: every form carries a secret that a forged form cannot know.

A signed-in session's forms send its own secret back (kept on the server with the session).
The sign-in form has no session yet: it sends back the random value of a short-lived cookie
set with the form (a double submit), which another site can neither read nor set.
"""

from __future__ import annotations

import hmac
import secrets

FIELD = "csrf_token"
SIGN_IN_COOKIE = "registry_console_sign_in"


def matches(sent: object, expected: str) -> bool:
    # Compared in constant time, so that the secret cannot be guessed one character at a time.
    return isinstance(sent, str) and bool(sent) and hmac.compare_digest(sent, expected)


def new_sign_in_secret() -> str:
    return secrets.token_urlsafe(32)
