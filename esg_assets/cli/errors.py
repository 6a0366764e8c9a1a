"""`CliError`: the one error type of the command line, in a module of its own so that every
command module can raise it without importing the main command that registers them."""


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""
