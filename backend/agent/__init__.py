"""Agent inference: the action space, the network, rollouts, styles (trained agents) and suggestions.

See ``backend/agent/actions.py`` (sliders and value bounds), ``network.py`` (:class:`AgentNet`),
``rollout.py`` (:func:`rollout`), ``style.py`` (style files and the style store), ``thumbnail.py`` (the
agent's 64x64 view of a photo) and ``suggest.py`` (photo -> recipes, variants, mixing, strength).
Import from the submodules; this package does not import torch-heavy modules eagerly.
"""
