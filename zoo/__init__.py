"""grcnn-zoo: interchangeable CNN backbones with one BiLSTM-CTC head for scene-text recognition.

``create_model``, ``get_config`` and ``list_models`` are ``zoo.factory``'s, loaded on first use:
``import zoo`` (which every ``zoo.*`` import runs first, the ``zoo`` command's included) must not
import torch, so that zoo.cli can set OMP_WAIT_POLICY before torch loads libgomp.
"""
from zoo.registry import ModelConfig, register_model  # noqa: F401
from zoo.version import __version__  # noqa: F401

_FACTORY_NAMES = ("create_model", "get_config", "list_models")


def __getattr__(name: str):
    if name in _FACTORY_NAMES:
        from zoo import factory

        return getattr(factory, name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
