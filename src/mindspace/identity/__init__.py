"""Identity: accounts, sign-in, sessions, roles and profiles."""
