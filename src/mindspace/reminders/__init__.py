"""Reminders: a person's own nudges (check in, meditate, journal), fired at their local time."""
