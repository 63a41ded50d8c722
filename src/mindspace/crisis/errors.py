from __future__ import annotations

from mindspace.platform.errors import Conflict, InvalidInput, NotFound


class TrustedContactNotFound(NotFound):
    type = "trusted-contact-not-found"
    title = "Trusted contact not found"


class TooManyTrustedContacts(Conflict):
    type = "too-many-trusted-contacts"
    title = "You already have as many trusted contacts as we allow"


class CrisisAlertNotFound(NotFound):
    type = "crisis-alert-not-found"
    title = "Crisis alert not found"


class AlertAlreadyResolved(Conflict):
    type = "crisis-alert-resolved"
    title = "This alert is already resolved"


class AssigneeNotStaff(InvalidInput):
    type = "assignee-not-staff"
    title = "Alerts can only be assigned to staff"
