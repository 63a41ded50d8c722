"""Crisis alerts for the staff who respond, and the trusted contacts a person chose."""
