from __future__ import annotations

from mindspace.platform.errors import InvalidInput, NotFound


class NotificationNotFound(NotFound):
    type = "notification-not-found"
    title = "Notification not found"


class PushSubscriptionNotFound(NotFound):
    type = "push-subscription-not-found"
    title = "Push subscription not found"


class BroadcastNotFound(NotFound):
    type = "broadcast-not-found"
    title = "Broadcast not found"


class PushNotConfigured(InvalidInput):
    type = "push-not-configured"
    title = "Push notifications are not available on this server"


class InvalidPushEndpoint(InvalidInput):
    type = "invalid-push-endpoint"
    title = "That is not a push service address"
