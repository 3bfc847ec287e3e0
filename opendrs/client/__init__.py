"""The command-line client of the HTTP API (`opendrs login`, `opendrs job ...`). It talks to a server over HTTP
only: it never imports the server's packages (import-linter enforces this)."""
