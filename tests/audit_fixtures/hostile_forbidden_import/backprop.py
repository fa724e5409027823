"""Uses a module the assignment does not allow (autodiff would do the homework)."""
import jax  # noqa: F401


def forward(params, x):
    return x
