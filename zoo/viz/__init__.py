"""Receptive-field visualisation: saliency maps, per-frame effective receptive fields, CTC
alignments, GRCNN gates, and the ``zoo viz rf`` report that gathers them (docs/visualisation.md)."""
from zoo.viz.report import build_report  # noqa: F401
