"""Backbones, heads, bundles, training, evaluation and the paper's study.

Importing this package imports TensorFlow (quietly, through livescope.tfenv).
"""

from livescope import tfenv as _tfenv

_tfenv.tf()
