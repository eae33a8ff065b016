"""Errors that describe bad user input.

The command line turns exactly these into a one-line message on stderr and a non-zero exit; any other
exception is a bug in snngen and keeps its traceback.
"""

__all__ = ["InputError", "InputTypeError"]


class InputError(ValueError):
    """A user-supplied value (a flag, a field of a file, a file itself) is not acceptable.

    The message names the field, the value and what would have been allowed, e.g.
    ``threshold must be in 1..127 for 8-bit signed state, not 500``.
    """


class InputTypeError(InputError, TypeError):
    """A user-supplied value has the wrong type (a float or a bool where an integer belongs)."""
