"""The shipped weights and model cards, installed as the package ``zoo.weights`` (pyproject.toml maps
it onto this folder) so that ``zoo.checkpoint.weights_dir`` finds them with importlib.resources in a
wheel and in an editable checkout alike. Nothing to import: the files are the content."""
