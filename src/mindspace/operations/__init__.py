"""Operations: what staff need to keep background work healthy (failed jobs, stuck events),
and the platform's own periodic housekeeping."""
