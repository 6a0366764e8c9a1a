"""The built-in sandbox: a real HTTP/1.1 server implementing upstream-apis.yaml.

It serves the token endpoint, the Account Management System and the ESG API (analysis and changes
feed) from a deterministic, seeded world, plus an admin API (`/_sandbox/...`) through which tests
script failures, advance days and read the request log. See docs/sandbox.md.
"""
