"""Identity's rules, one module per capability; other domains import from here only."""

from mindspace.identity.service.accounts import (
    ACTIVE,
    SUSPENDED,
    get_me,
    list_sessions,
    login,
    logout,
    logout_everywhere,
    normalise_email,
    refresh,
    register,
    revoke_session,
    update_me,
)

__all__ = [
    "ACTIVE",
    "SUSPENDED",
    "get_me",
    "list_sessions",
    "login",
    "logout",
    "logout_everywhere",
    "normalise_email",
    "refresh",
    "register",
    "revoke_session",
    "update_me",
]
