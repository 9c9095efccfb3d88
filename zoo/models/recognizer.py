"""The pure ``nn.Module`` side of the zoo: a backbone, the shared head, and the ``Recognizer``.

``Recognizer(images) -> logits`` of shape (batch, frames, classes), class 0 the CTC blank.
Training glue (losses, optimisers, data) lives elsewhere, and so does reading images
(``zoo.predict.Reader``, the Recognizer with ``read`` that ``zoo.create_model`` builds: reading
needs the data and decoding layers, which sit above the models).
"""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from zoo.models import geometry
from zoo.registry import ModelConfig


class Backbone(nn.Module):
    """A CNN over a text line: (N, C, 32, W) -> (N, out_channels, 1, frames).

    Subclasses put every layer, in order, in ``self.features`` (a flat Sequential); frame count,
    horizontal stride and receptive field are derived from it (``zoo.models.geometry``).
    """
    features: nn.Sequential

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def num_frames(self, width: int) -> int:
        return geometry.num_frames(self.features, width)

    @property
    def horizontal_stride(self) -> int:
        return geometry.horizontal_stride(self.features)

    @property
    def receptive_field(self) -> int:
        return geometry.receptive_field(self.features)

    def receptive_field_table(self, width: int = 100) -> list[dict]:
        return geometry.receptive_field_table(self.features, width)


class BidirectionalLSTM(nn.Module):
    """One BiLSTM layer followed by a Linear over both directions' outputs (CRNN's
    ``BidirectionalLSTM``: projecting each direction and summing is the same Linear)."""

    def __init__(self, in_features: int, hidden_size: int, out_features: int):
        super().__init__()
        self.rnn = nn.LSTM(in_features, hidden_size, bidirectional=True, batch_first=True)
        self.proj = nn.Linear(2 * hidden_size, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.rnn(x)[0])


class BiLSTMHead(nn.Sequential):
    """The shared sequence head: two BiLSTM layers, the second projecting to the classes."""
    classifier = "1.proj"  # the Linear to the classes, inside the head

    def __init__(self, in_features: int, hidden_size: int, num_classes: int):
        super().__init__(BidirectionalLSTM(in_features, hidden_size, hidden_size),
                         BidirectionalLSTM(hidden_size, hidden_size, num_classes))


class LinearHead(nn.Linear):
    """Head-less ablation: each frame's CNN feature straight to the classes (``hidden_size`` unused)."""
    classifier = ""  # the head is the classifier

    def __init__(self, in_features: int, hidden_size: int, num_classes: int):
        super().__init__(in_features, num_classes)


HEADS = {"bilstm": BiLSTMHead, "linear": LinearHead}


def classifier_name(head: str) -> str:
    """The classifier's module name in a Recognizer with ``head`` (timm's pretrained_cfg["classifier"])."""
    inner = HEADS[head].classifier
    return f"head.{inner}" if inner else "head"


class Recognizer(nn.Module):
    """Backbone + head. The head's input size is read from a dummy forward of the backbone, which
    also checks the backbone's declared geometry (frame count, stride) against what it computes.

    timm's conventions: ``config.classifier`` and ``config.first_conv`` name the classifier (the
    head's last Linear) and the first convolution; ``reset_classifier(n)`` gives a new classifier;
    ``num_classes=0`` has none, and the model returns the classifier's input features per frame,
    (batch, frames, num_features), as timm's num_classes=0 returns pooled features."""

    def __init__(self, backbone: Backbone, num_classes: int, config: ModelConfig):
        super().__init__()
        if config.head not in HEADS:
            raise ValueError(f"unknown head {config.head!r}; choose one of {', '.join(HEADS)}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0 (0: no classifier), got {num_classes}")
        self.backbone = backbone
        self.config = replace(config, classifier=classifier_name(config.head))
        out_channels = self._check_backbone(backbone, self.config)
        # built with at least one class so that num_features can be read off the classifier
        self.head = HEADS[config.head](out_channels, config.hidden_size, max(num_classes, 1))
        self.num_features = self.get_classifier().in_features
        self.num_classes = num_classes
        if num_classes == 0:
            self.reset_classifier(0)
        self._check_first_conv()

    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.config.classifier)

    def reset_classifier(self, num_classes: int) -> None:
        """A new, freshly initialised classifier with ``num_classes`` outputs (0: none; features out)."""
        parent, _, attr = self.config.classifier.rpartition(".")
        module = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        setattr(self.get_submodule(parent) if parent else self, attr, module)
        self.num_classes = num_classes

    @property
    def pretrained_cfg(self) -> dict:
        """The config as timm's ``model.pretrained_cfg`` names it (input_size, mean, std, classifier, ...)."""
        cfg = self.config
        return {**cfg.as_dict(), "num_classes": self.num_classes, "input_size": (cfg.in_chans, cfg.height, cfg.width)}

    def _check_first_conv(self) -> None:
        first = dict(self.named_modules()).get(self.config.first_conv)
        if not isinstance(first, nn.Conv2d):
            raise ValueError(f"{self.config.name}: config.first_conv {self.config.first_conv!r} is not a Conv2d "
                             f"of the model ({type(first).__name__}); set first_conv in its register_model config")

    @staticmethod
    def _check_backbone(backbone: Backbone, config: ModelConfig) -> int:
        with torch.no_grad():
            was_training = backbone.training
            feats = backbone.eval()(torch.zeros(1, config.in_chans, config.height, config.width))
            backbone.train(was_training)
        frames = backbone.num_frames(config.width)
        if feats.shape[2] != 1 or feats.shape[3] != frames:
            raise ValueError(f"{config.name}: backbone gives features of shape {tuple(feats.shape)} for a "
                             f"{config.height}x{config.width} input; the head needs height 1 and {frames} "
                             f"frames (its declared geometry)")
        if backbone.horizontal_stride != config.horizontal_stride:
            raise ValueError(f"{config.name}: config declares horizontal stride {config.horizontal_stride}, "
                             f"the backbone's layers give {backbone.horizontal_stride}")
        return feats.shape[1]

    def num_frames(self, width: int) -> int:
        return self.backbone.num_frames(width)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(images)
        if feats.shape[2] != 1:
            raise ValueError(f"{self.config.name} expects images {self.config.height} px high "
                             f"(got {images.shape[2]}): resize with the model's preprocessing")
        return self.head(feats.squeeze(2).transpose(1, 2))
