"""grcnn-zoo: interchangeable CNN backbones with one BiLSTM-CTC head for scene-text recognition."""
__version__ = "0.1.0"

from zoo.registry import ModelConfig, create_model, get_config, list_models, register_model  # noqa: E402,F401
