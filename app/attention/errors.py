"""The one error every layer may raise for a request that cannot be served as given."""


class InputError(ValueError):
    """The request cannot be run as given; the message tells the caller what to change."""
