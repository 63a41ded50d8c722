"""The journal: private entries, sealed at rest with the person's data key; prompts; opt-in
analysis."""
