from __future__ import annotations

from mindspace.platform.errors import (
    AppError,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    Unauthenticated,
)


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


class CommonPassword(WeakPassword):
    """A password from the list of the most common ones, pointing at the field that held it."""

    def __init__(self, field: str) -> None:
        super().__init__(
            "This password is one of the most commonly used, so it is among the first an "
            "attacker would try. Choose another: a few unrelated words work well."
        )
        self.errors = [
            FieldError(
                pointer=f"/body/{field}",
                detail="is one of the 10,000 most common passwords",
                code="common_password",
            )
        ]


class LinkInvalid(AppError):
    type = "link-invalid"
    title = "This link is not valid"


class LinkExpired(AppError):
    status = 410
    type = "link-expired"
    title = "This link has expired"


class VerificationRequired(Forbidden):
    type = "verification-required"
    title = "Verify your email first"


class FailedSignIn(InvalidCredentials):
    """Renders exactly as InvalidCredentials; the failure counter it bumped must persist."""

    keeps_changes = True


class AccountLocked(AppError):
    """Only ever answered to someone who gave the right password (see service.lockout)."""

    status = 429
    type = "account-locked"
    title = "This account is locked for a while"

    def __init__(self, retry_after_seconds: int) -> None:
        retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(
            f"Too many failed sign-ins. Try again in {retry_after_seconds} s, or reset your "
            "password to get back in now.",
            headers={"Retry-After": str(retry_after_seconds)},
        )


class TwoFactorRequired(Unauthenticated):
    type = "two-factor-required"
    title = "Enter a code from your authenticator app or a recovery code"


class WrongSecondFactor(TwoFactorRequired):
    keeps_changes = True  # the failure counter must persist


class StepUpRequired(Forbidden):
    type = "step-up-required"
    title = "Confirm it is you first"


class StepUpFailed(Forbidden):
    type = "step-up-failed"
    title = "That password or code is not right"
    keeps_changes = True  # the failure counter must persist


class InvalidTwoFactorCode(AppError):
    status = 422
    type = "invalid-two-factor-code"
    title = "That code is not right"


class TwoFactorAlreadyEnabled(Conflict):
    type = "two-factor-already-enabled"
    title = "Two-factor authentication is already on"


class TwoFactorNotEnabled(Conflict):
    type = "two-factor-not-enabled"
    title = "Two-factor authentication is not on"


class TwoFactorNotPending(Conflict):
    type = "two-factor-not-pending"
    title = "Start two-factor setup first"


class StaffActionRefused(Forbidden):
    """A staff action the actor's role does not allow (on themselves, on a super, a grant above
    their rank). The attempt is itself a fact for the audit trail, so the record is kept."""

    type = "staff-action-refused"
    title = "Your role does not allow this action"
    keeps_changes = True


class ProfileNotFound(NotFound):
    # The same answer for a private profile and for no profile at all: no existence leaks.
    type = "profile-not-found"
    title = "Profile not found"


class InvalidCode(AppError):
    """A one-time code that is wrong, used, expired or out of tries: one answer for all four,
    so a guesser learns nothing but "no"."""

    status = 400
    type = "invalid-code"
    title = "That code is not right or has expired"
    keeps_changes = True  # a wrong try must count although the request fails


class PhoneTaken(Conflict):
    type = "phone-taken"
    title = "That phone number is already in use"


class CriticalNotificationsRequired(AppError):
    """A change that would leave a critical category (security, crisis follow-up, payments)
    with every channel off."""

    status = 422
    type = "critical-notifications-required"
    title = "Keep at least one channel on for this kind of message"

    def __init__(self, categories: list[str]) -> None:
        super().__init__(
            "Security, crisis follow-up and payment messages need at least one channel: "
            "choose how to receive them, not whether."
        )
        self.errors = [
            FieldError(
                pointer=f"/body/channels/{category}",
                detail="at least one channel must stay on",
                code="critical_category",
            )
            for category in categories
        ]


class AvatarNotFound(NotFound):
    # The same answer for no picture, a private profile and no such person: no existence leaks.
    type = "avatar-not-found"
    title = "Avatar not found"


class UnsupportedImage(AppError):
    status = 415
    type = "unsupported-image"
    title = "Upload a JPEG, PNG or WebP image"


class UnreadableImage(AppError):
    status = 422
    type = "unreadable-image"
    title = "This image is damaged or incomplete"


class ImageTooLarge(AppError):
    status = 413
    type = "image-too-large"
    title = "This image file is too large"


class ImageDimensionsTooLarge(AppError):
    status = 422
    type = "image-dimensions-too-large"
    title = "This image has too many pixels"


class OidcProviderNotFound(NotFound):
    type = "oidc-provider-not-found"
    title = "No such sign-in provider"


class RedirectUriNotAllowed(AppError):
    status = 422
    type = "redirect-uri-not-allowed"
    title = "This redirect URI is not allowed"

    def __init__(self) -> None:
        super().__init__(
            "Use an address under this app's public URL or one configured for the provider."
        )
        self.errors = [
            FieldError(
                pointer="/body/redirect_uri",
                detail="is not an allowed redirect URI",
                code="redirect_uri_not_allowed",
            )
        ]


class OidcStateInvalid(AppError):
    # Unknown, expired, already used, or started for another provider or person: one answer.
    type = "oidc-state-invalid"
    title = "This sign-in attempt is not valid any more"


class OidcSignInFailed(Unauthenticated):
    type = "oidc-sign-in-failed"
    title = "The provider's sign-in could not be verified"
    keeps_changes = True  # the attempt stays spent: it cannot be retried with another code


class OidcTwoFactorRequired(TwoFactorRequired):
    keeps_changes = True  # the flow waits for the second factor


class OidcProviderUnavailable(AppError):
    status = 502
    type = "oidc-provider-unavailable"
    title = "The sign-in provider did not answer properly"


class AccountExists(Conflict):
    type = "account-exists"
    title = "An account with this email already exists"
    keeps_changes = True  # the attempt stays spent


class IdentityAlreadyLinked(Conflict):
    type = "identity-already-linked"
    title = "This provider account already signs in to another account"
    keeps_changes = True  # the attempt stays spent


class IdentityLinkNotFound(NotFound):
    type = "identity-link-not-found"
    title = "Linked sign-in not found"


class LastSignInMethod(Conflict):
    type = "last-sign-in-method"
    title = "This is your only way to sign in"


class ExportNotFound(NotFound):
    type = "export-not-found"
    title = "Export not found"


class ExportNotReady(Conflict):
    type = "export-not-ready"
    title = "This export is still being prepared"


class ExportLinkInvalid(AppError):
    status = 410
    type = "export-link-invalid"
    title = "This download link has expired or was already used"
