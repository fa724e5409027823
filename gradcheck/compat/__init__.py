"""Drop-ins for the peers' checkers, with gradcheck's verdicts.

    from gradcheck.compat.torch import gradcheck, gradgradcheck   # was: from torch.autograd import ...
    from gradcheck.compat.jax import check_grads                  # was: from jax.test_util import ...

The submodules import torch or jax; this package imports neither.
"""
