"""The HTTP application: the Flask app, its handlers, auth, validation, negotiation and problem documents."""
