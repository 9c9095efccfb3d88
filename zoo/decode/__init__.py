"""CTC decoding: best path, prefix beam search, and lexicon-based decoding."""
