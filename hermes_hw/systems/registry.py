"""Imports every built-in system module so that each registers itself.

Implementation ids (``system:`` in a config): hermes, hermes-host, hermes-base, accelerate,
flexgen, dejavu, trtllm. The ids a user passes to ``--system`` are the configs in
configs/systems/ (the paper's systems plus the ablations hermes-random, hermes-ilp,
hermes-adjust, hermes-token-only, hermes-layer-only, each a Hermes config with one policy
changed, and trtllm-5xa100).
"""

from hermes_hw.systems import (  # noqa: F401
    dejavu,
    hermes,
    hermes_base,
    offload,
    trtllm,
)
