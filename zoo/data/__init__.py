"""Data: charsets, preprocessing, LMDB datasets, importers and the synthetic word renderer."""
