"""Make `import mediapipe` quiet with protobuf 5+.

MediaPipe 0.10.21's compiled bindings call `MessageFactory.GetPrototype`, which protobuf 5 removed
(`message_factory.GetMessageClass` replaced it); each import then prints
`AttributeError: 'MessageFactory' object has no attribute 'GetPrototype'`. Before the first import the old name
is given the new function. The patch is narrow: it only acts when the method is absent, and is a no-op otherwise.
"""

from __future__ import annotations

import sys
from types import ModuleType


def compat_protobuf() -> None:
    """`MessageFactory.GetPrototype(descriptor)` = `GetMessageClass(descriptor)`, where protobuf lacks it."""
    from google.protobuf import message_factory

    if not hasattr(message_factory.MessageFactory, "GetPrototype"):
        message_factory.MessageFactory.GetPrototype = lambda self, descriptor: message_factory.GetMessageClass(descriptor)


def import_mediapipe() -> ModuleType:
    """`import mediapipe`, with the protobuf name it needs in place."""
    if "mediapipe" not in sys.modules:
        compat_protobuf()
    import mediapipe

    return mediapipe
