"""Mood's rules, one module per capability; other domains import from here only."""

from mindspace.mood.service.activities import (
    create_activity,
    delete_activity,
    list_activities,
    rename_activity,
)
from mindspace.mood.service.checkins import (
    create_checkin,
    delete_checkin,
    get_checkin,
    list_checkins,
    update_checkin,
)
from mindspace.mood.service.exports import CSV_MEDIA_TYPE, export_csv, export_mood
from mindspace.mood.service.insights import (
    get_insights,
    get_streak,
    get_trend,
    get_year_in_pixels,
)
from mindspace.mood.service.settings import get_settings, update_settings

__all__ = [
    "CSV_MEDIA_TYPE",
    "create_activity",
    "create_checkin",
    "delete_activity",
    "delete_checkin",
    "export_csv",
    "export_mood",
    "get_checkin",
    "get_insights",
    "get_settings",
    "get_streak",
    "get_trend",
    "get_year_in_pixels",
    "list_activities",
    "list_checkins",
    "rename_activity",
    "update_checkin",
    "update_settings",
]
