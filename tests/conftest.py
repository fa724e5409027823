"""Shared test set-up: threads, jax, the garbage collector, and how pytest-xdist shares the tests out."""
import gc
import os
import sys

import pytest

# One thread per process: pytest-xdist runs several workers already, and BLAS, OpenMP (torch) and XLA
# threads that spin while they wait would only take turns with the other workers' (set before any of them
# loads; the workers and the programs the tests start inherit it).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


def pytest_configure(config):
    """jax is imported before any test, in every process that runs tests: in-process pytester runs restore
    sys.modules, and re-importing jax in one process aborts it. (Not in pytest-xdist's controller, which runs
    none: there it would only delay the workers' start.)"""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        try:
            import jax  # noqa: F401
        except ImportError:  # the jax extra is optional; tests that need it skip
            pass


def _freeze_survivors():
    """What lives now came to stay: frozen, it is no longer walked by each full collection of the garbage
    collector (a tenth of a second or more each, a dozen times per worker) nor by the last one at the end."""
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session):
    """Once the tests are collected: jax, hypothesis, numpy, every test module."""
    _freeze_survivors()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """When a worker leaves a module (its module fixtures are gone by then): torch, among others, for the
    worker that imported it."""
    if nextitem is None or nextitem.path != item.path:
        _freeze_survivors()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """A pytest-xdist worker leaves as soon as its session is over: its results are with the controller by
    then (sent at session finish), and the interpreter's teardown (jax's and torch's compiled code freed,
    everything the tests made collected) only kept the controller waiting, about a second at the end of
    every run. Not under coverage, which writes its data at exit."""
    if hasattr(config, "workerinput") and "coverage" not in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.workeroutput.get("exitstatus", 0))


# The longest first: the workers take tests in collection order, so starting the long ones first keeps
# every worker busy until the end (test_properties_mlp.py starts the JAX group below, the longest unit).
LONGEST_FIRST = ("test_audit_integrity.py", "test_audit.py", "test_install.py", "test_docs.py",
                 "test_properties_mlp.py", "test_audit_isolation.py", "test_plugin.py", "test_audit_sandbox.py",
                 "test_audit_contracts.py")
# Modules whose tests share module-scoped grading runs: each goes to one worker whole, so its run happens once.
SHARED_RUNS = ("test_audit_integrity.py", "test_audit.py", "test_audit_contracts.py")
# Tests that use torch (their node ids say so) go to one worker together: importing torch takes a second and a
# half of CPU, which every worker would pay otherwise.
TORCH = "torch"
# The modules that compare with JAX most go to one worker together too: each new function or shape is
# compiled by XLA once per process, and the first compile of a process warms XLA up.
JAX = ("test_reference_nets.py", "test_vjp_jacobian_jax.py", "test_compat_jax.py", "test_properties_mlp.py",
       "test_verdicts.py", "test_lazy_jax.py", "test_dtypes_and_tuples.py", "test_second_order.py", "test_jvp.py",
       "test_messages.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """One worker more than cores (`-n auto`): the audit tests spend seconds waiting out the timeouts of
    hostile submissions, and the extra worker runs other tests meanwhile."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores + 1


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Test by test, except SHARED_RUNS module by module, the torch tests together and the JAX modules together
    (pytest-xdist's loadgroup cannot tag node ids under pytest 9, so the grouping is by name here). Another
    --dist given on the command line wins."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TestByTest(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::", 1)[0]
            name = module.rsplit("/", 1)[-1]
            if name in SHARED_RUNS:
                return module
            if TORCH in nodeid.lower():
                return TORCH
            return "jax" if name in JAX else nodeid

    return TestByTest(config, log)
