"""The model families; importing this package registers every built-in model."""
from zoo.models import densenet, grcnn, rcnn, vgg  # noqa: F401
from zoo.models.recognizer import Backbone, Recognizer  # noqa: F401
