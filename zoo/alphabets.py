"""The papers' alphabet, in a leaf module: the model contract (``zoo.registry``: a model's default
charset) and the data layer (``zoo.data.charset``: the named charset ``alnum36``) both need it, and
neither may import the other."""

ALPHANUMERIC_36 = "0123456789abcdefghijklmnopqrstuvwxyz"  # both papers' case-folded characters
