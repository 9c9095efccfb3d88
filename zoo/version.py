"""The zoo's version, in a leaf module: what low modules (``zoo.report``'s provenance) read without
importing the package itself, whose public names load the whole model stack (``zoo.factory``)."""

__version__ = "0.1.0"
