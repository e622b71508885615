"""Test helpers and development tools that are not part of the product: the Khronos validator wrapper, the FBX
reader, Blender read-back helpers, the extension builder (``make addon``)."""
