from __future__ import annotations

import enum
import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    IPvAnyAddress,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from mindspace.identity import passwords
from mindspace.platform.ids import InvalidIdError, PublicId, UserId, decode
from mindspace.platform.schemas import InputModel, OutputModel, PhoneNumber
from mindspace.platform.security import Role

SessionId = Annotated[uuid.UUID, PublicId("ses", "auth session")]

Password = Annotated[str, Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)]


DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


def _valid_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    # OSError: a region folder such as "Europe" is a directory in the tz database, not a zone.
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("not an IANA time zone, e.g. Europe/London") from None
    return value


Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_valid_timezone)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
# Who may see display name, bio and pronouns at /users/{id}: only the person, or anyone.
ProfileVisibility = Literal["private", "public"]


class RegisterRequest(InputModel):
    email: EmailStr = Field(max_length=320)
    password: Password
    display_name: DisplayName


TotpCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6}$"),
    Field(description="The 6-digit code from an authenticator app", examples=["123456"]),
]
RecoveryCodeText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(description="One of the recovery codes shown when two-factor was turned on"),
]


class LoginRequest(InputModel):
    email: EmailStr = Field(max_length=320)
    # Length is not checked here: a wrong password of any length is just a wrong password.
    password: str = Field(min_length=1, max_length=1024)
    # Needed only when the account has two-factor on (the answer says so: two-factor-required).
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCodeText | None = None


class RefreshRequest(InputModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class TokenPair(OutputModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str


class AuthSessionOut(OutputModel):
    id: SessionId
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: IPvAnyAddress | None
    user_agent: str | None
    current: bool = Field(description="The session this request was made with")


class Me(OutputModel):
    id: UserId
    email: str | None
    email_verified: bool
    phone: str | None = Field(description="E.164, set only once a code sent to it came back")
    roles: list[str]
    display_name: str
    bio: str | None
    pronouns: str | None
    country: str | None
    timezone: str
    locale: str
    theme: str
    day_boundary_hour: int
    onboarding_step: int
    profile_visibility: ProfileVisibility
    avatar_url: str | None = Field(default=None, description="None until a picture is uploaded")
    created_at: datetime


class MeUpdate(InputModel):
    display_name: DisplayName | None = None
    bio: Annotated[str, StringConstraints(max_length=1000)] | None = None
    pronouns: Annotated[str, StringConstraints(max_length=40)] | None = None
    country: CountryCode | None = None
    timezone: Timezone | None = None
    locale: Locale | None = None
    theme: Literal["system", "light", "dark"] | None = None
    day_boundary_hour: Annotated[int, Field(ge=0, le=23)] | None = None
    onboarding_step: Annotated[int, Field(ge=0, le=100)] | None = None
    profile_visibility: ProfileVisibility | None = None

    @field_validator(
        "display_name",
        "timezone",
        "locale",
        "theme",
        "day_boundary_hour",
        "onboarding_step",
        "profile_visibility",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Optional here means "may be left out", not "may be cleared": these always have a value.
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class PublicProfile(OutputModel):
    id: UserId
    display_name: str
    bio: str | None
    pronouns: str | None


# Link tokens are 43 URL-safe characters today; the bounds leave room and refuse garbage early.
LinkToken = Annotated[str, StringConstraints(min_length=16, max_length=200)]


class VerifyEmailRequest(InputModel):
    token: LinkToken


class EmailChangeRequest(InputModel):
    new_email: EmailStr = Field(max_length=320)


class ForgotPasswordRequest(InputModel):
    email: EmailStr = Field(max_length=320)


class ResetPasswordRequest(InputModel):
    token: LinkToken
    new_password: Password


ActivityId = Annotated[uuid.UUID, PublicId("act", "account activity")]
AuditRecordId = Annotated[uuid.UUID, PublicId("aud", "audit record")]


class AccountActivityOut(OutputModel):
    id: ActivityId
    kind: str = Field(description="signed_in, password_changed, refresh_token_reused, ...")
    ip: IPvAnyAddress | None
    user_agent: str | None
    occurred_at: datetime
    details: dict[str, Any]


class AdminUser(OutputModel):
    """An account as staff see it."""

    id: UserId
    email: str | None
    email_verified: bool
    roles: list[str]
    status: str
    display_name: str
    profile_visibility: ProfileVisibility
    created_at: datetime
    suspended_at: datetime | None
    suspension_reason: str | None


class SuspendRequest(InputModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class RolesUpdate(InputModel):
    roles: list[Role] = Field(
        max_length=len(Role),
        description="Every role the person should hold; member is always kept.",
    )


class AuditRecordOut(OutputModel):
    id: AuditRecordId
    actor_id: UserId | None
    action: str
    target_type: str | None
    target_id: str | None = Field(description="A public id (usr_...) when the kind is known")
    ip: IPvAnyAddress | None
    user_agent: str | None
    details: dict[str, Any]
    occurred_at: datetime


OtpCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$"), Field(examples=["123456"])]


class PhoneCodeRequest(InputModel):
    phone: PhoneNumber
    purpose: Literal["sign_in"] = Field(
        default="sign_in",
        description="sign_in signs in, or creates an account for a new number. To add a number "
        "to a signed-in account use /users/me/phone/start.",
    )


class PhoneCodeCheck(InputModel):
    phone: PhoneNumber
    code: OtpCode


class PhoneSignIn(PhoneCodeCheck):
    # Accounts with two-factor on need it here too: a phone alone (SIM swap) must not do.
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCodeText | None = None


class PhoneChangeRequest(InputModel):
    phone: PhoneNumber


class CodeSent(OutputModel):
    detail: str
    expires_in: int = Field(description="Seconds the code stays valid")
    resend_after: int = Field(description="Seconds before another code can be sent")


class VerifiedPhone(OutputModel):
    phone: str = Field(description="E.164")
    phone_verified_at: datetime


def _any_kind_of_id(value: object) -> object:
    if isinstance(value, str) and "_" in value:
        try:
            return decode(value.partition("_")[0], value)
        except InvalidIdError:
            raise ValueError("expected an id such as usr_01J..., or a UUID") from None
    return value


# The target of an audit record may be of any kind: a public id of any prefix, or a raw UUID.
AnyId = Annotated[uuid.UUID, BeforeValidator(_any_kind_of_id)]


# --- preferences ------------------------------------------------------------------------------


class NotificationCategory(enum.StrEnum):  # auto(): each value is the member name
    security = enum.auto()
    crisis_followup = enum.auto()
    payments = enum.auto()
    reminders = enum.auto()
    community = enum.auto()
    bookings = enum.auto()
    marketing = enum.auto()
    product_updates = enum.auto()


class NotificationChannel(enum.StrEnum):
    email = enum.auto()
    push = enum.auto()
    sms = enum.auto()
    in_app = enum.auto()


# What a person must be able to hear about: they choose how, never whether. At least one
# channel stays on for each (service.preferences refuses a change that would leave none).
CRITICAL_CATEGORIES = frozenset(
    {
        NotificationCategory.security,
        NotificationCategory.crisis_followup,
        NotificationCategory.payments,
    }
)


class ChannelSwitches(OutputModel):
    email: bool
    push: bool
    sms: bool
    in_app: bool

    def any_on(self) -> bool:
        return self.email or self.push or self.sms or self.in_app


class NotificationChannels(OutputModel):
    """One field per NotificationCategory (a unit test keeps the two in step)."""

    security: ChannelSwitches
    crisis_followup: ChannelSwitches
    payments: ChannelSwitches
    reminders: ChannelSwitches
    community: ChannelSwitches
    bookings: ChannelSwitches
    marketing: ChannelSwitches
    product_updates: ChannelSwitches

    def of(self, category: NotificationCategory) -> ChannelSwitches:
        switches: ChannelSwitches = getattr(self, category.value)
        return switches


class PrivacyOptions(OutputModel):
    allow_ai_memory: bool = Field(
        default=False, description="The companion may remember things across conversations"
    )
    allow_journal_analysis: bool = Field(
        default=False, description="Journal entries may be analysed for insights"
    )
    allow_crisis_outreach: bool = Field(
        default=False,
        description="If something written in the journal or a mood note suggests danger, the "
        "care team may reach out, and trusted contacts chosen to be told are told. They learn "
        "that it happened and its warning signs, never the words. Crisis lines are shown either "
        "way.",
    )
    allow_journal_memory: bool = Field(
        default=False,
        description="Journal entries written or edited from now on may become memories of the "
        "companion (only while allow_ai_memory is on too; never an entry with risk signals)",
    )
    show_in_community_directory: bool = Field(
        default=False, description="Other members can find this person in the directory"
    )


class Preferences(OutputModel):
    channels: NotificationChannels = Field(
        description="For each category, the channels it may use. security, crisis_followup "
        "and payments always keep at least one channel on."
    )
    privacy: PrivacyOptions

    def allows(self, category: NotificationCategory, channel: NotificationChannel) -> bool:
        on: bool = getattr(self.channels.of(category), channel.value)
        return on


class _Patch(InputModel):
    @field_validator("*")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Every field may be left out; none may be cleared (null has no meaning here).
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class ChannelSwitchesUpdate(_Patch):
    email: StrictBool | None = None
    push: StrictBool | None = None
    sms: StrictBool | None = None
    in_app: StrictBool | None = None


class NotificationChannelsUpdate(_Patch):
    security: ChannelSwitchesUpdate | None = None
    crisis_followup: ChannelSwitchesUpdate | None = None
    payments: ChannelSwitchesUpdate | None = None
    reminders: ChannelSwitchesUpdate | None = None
    community: ChannelSwitchesUpdate | None = None
    bookings: ChannelSwitchesUpdate | None = None
    marketing: ChannelSwitchesUpdate | None = None
    product_updates: ChannelSwitchesUpdate | None = None


class PrivacyOptionsUpdate(_Patch):
    allow_ai_memory: StrictBool | None = None
    allow_journal_analysis: StrictBool | None = None
    allow_crisis_outreach: StrictBool | None = None
    allow_journal_memory: StrictBool | None = None
    show_in_community_directory: StrictBool | None = None


class PreferencesUpdate(_Patch):
    """A partial update: only the fields present change, down to a single channel of a
    single category (`{"channels": {"community": {"email": false}}}`)."""

    channels: NotificationChannelsUpdate | None = None
    privacy: PrivacyOptionsUpdate | None = None


# --- avatar -----------------------------------------------------------------------------------

AvatarSize = Literal["full", "thumb"]


class AvatarOut(OutputModel):
    url: str = Field(description="The picture, at most 512×512; changes with every upload")
    thumbnail_url: str = Field(description="At most 128×128")
    width: int
    height: int
    content_type: Literal["image/webp"] = "image/webp"


class StepUpRequest(InputModel):
    """Exactly one proof: the account password, an authenticator code, or a recovery code."""

    password: str | None = Field(default=None, min_length=1, max_length=1024)
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCodeText | None = None

    @model_validator(mode="after")
    def _exactly_one_proof(self) -> StepUpRequest:
        given = [v for v in (self.password, self.totp_code, self.recovery_code) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of password, totp_code or recovery_code")
        return self


class SteppedUp(OutputModel):
    stepped_up_until: datetime = Field(
        description="Sensitive changes from this session are allowed until then"
    )


class TwoFactorStatus(OutputModel):
    enabled: bool
    pending: bool = Field(description="Set up but not yet confirmed with a code")
    recovery_codes_remaining: int


class TwoFactorSetup(OutputModel):
    secret: str = Field(description="Base32; shown this once. Add it to an authenticator app.")
    otpauth_uri: str = Field(description="The same secret as an otpauth:// URI, for a QR code")


class TwoFactorConfirm(InputModel):
    code: TotpCode


class RecoveryCodes(OutputModel):
    recovery_codes: list[str] = Field(
        description="Each works once in place of an authenticator code. Shown this once: "
        "ask the person to store them safely."
    )


class PasswordChange(InputModel):
    new_password: Password


IdentityLinkId = Annotated[uuid.UUID, PublicId("lnk", "identity link")]


def _absolute_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if parts.fragment or parts.username or parts.password:
        raise ValueError("must not carry a fragment or credentials")
    return value


RedirectUri = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_absolute_http_url)
]


class OidcProviderOut(OutputModel):
    name: str


class OidcStart(InputModel):
    redirect_uri: RedirectUri = Field(
        description="Where the provider sends the person back, with `code` and `state` in the "
        "query: under this app's public URL, or configured for the provider"
    )


class AuthorizationUrl(OutputModel):
    authorization_url: str = Field(description="Send the person's browser here")


class OidcCallback(InputModel):
    code: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    state: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class OidcSignInCallback(OidcCallback):
    # With two-factor on, a first callback answers 401 two-factor-required; send the same
    # code and state again with one of these (within the flow's ten minutes).
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCodeText | None = None


class IdentityLinkOut(OutputModel):
    id: IdentityLinkId
    provider: str
    email: str | None
    created_at: datetime


ExportId = Annotated[uuid.UUID, PublicId("exp", "data export")]


class DataExportOut(OutputModel):
    id: ExportId
    status: Literal["pending", "ready", "failed", "downloaded", "expired"]
    requested_at: datetime
    ready_at: datetime | None
    expires_at: datetime | None


class DeletionScheduled(OutputModel):
    due_at: datetime = Field(description="When the account and everything in it is erased")
    detail: str = (
        "You have been signed out everywhere. Sign in again before this time to keep your account."
    )
