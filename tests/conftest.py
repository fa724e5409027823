"""Shared test set-up.

jax is imported here, in the outer process, because in-process pytester runs
restore sys.modules and re-importing jax in one process aborts it.
"""
import jax  # noqa: F401

pytest_plugins = []
