"""Shared fixtures. IC03 is read from ../shared/data/ic03 beside the checkout (evaluation only)."""
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
IC03 = REPO.parent / "shared" / "data" / "ic03"


@pytest.fixture
def ic03_dir() -> Path:
    if not (IC03 / "gt.txt").is_file():
        pytest.skip(f"IC03 test set not found at {IC03} (expected ../shared/data/ic03 beside the checkout)")
    return IC03


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
