"""In-app notifications and their deliveries by email, Web Push and SMS."""
