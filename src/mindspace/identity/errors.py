from __future__ import annotations

from mindspace.platform.errors import AppError, Conflict, NotFound, Unauthenticated


class InvalidCredentials(Unauthenticated):
    type = "invalid-credentials"
    title = "Email or password is not right"


class InvalidToken(Unauthenticated):
    type = "invalid-token"
    title = "The token is not valid"


class SessionNotFound(NotFound):
    type = "session-not-found"
    title = "Session not found"


class UserNotFound(NotFound):
    type = "user-not-found"
    title = "User not found"


class WeakPassword(AppError):
    status = 422
    type = "weak-password"
    title = "Choose a different password"


class AccountUnavailable(Unauthenticated):
    type = "account-unavailable"
    title = "This account cannot sign in"


class EmailTaken(Conflict):
    type = "email-taken"
    title = "That email is already in use"


class RefreshTokenReused(InvalidToken):
    keeps_changes = True  # the session we ended must stay ended
