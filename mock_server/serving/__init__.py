"""How the app is served over HTTP: the server, the request channel and where it listens."""
