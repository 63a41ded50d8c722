"""Mood: check-ins, the person's own activities, insights and charts."""
