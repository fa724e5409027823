"""Reference networks: the backprop of the four source texts (docs/references.md), written to be read and to be trusted.

``backprop_loops`` follows the texts neuron by neuron; ``backprop`` is the matrix form,
tested against the loops and against JAX (``jax_twin``).  ``CATALOG`` lists common student
mistakes, each reproducible with ``bug=``, and ``diagnose`` names the mistake behind a wrong
gradient.  Importing this package imports numpy only.
"""
from ._activations import ACTIVATIONS
from ._diagnose import diagnose
from ._jax import jax_twin
from ._loops import backprop_loops
from ._matrix import Backprop, backprop, forward, input_jacobian, input_jacobian_batch, loss
from ._spec import LAYOUTS, NetSpec, init_params
from ._targets import TARGETS
from .catalog import CATALOG, Bug

__all__ = [
    "ACTIVATIONS", "TARGETS", "LAYOUTS", "NetSpec", "init_params", "forward", "loss", "backprop", "Backprop",
    "backprop_loops", "input_jacobian", "input_jacobian_batch", "jax_twin", "CATALOG", "Bug", "diagnose",
]
