"""Shared test set-up.

jax is imported here, in the outer process, because in-process pytester runs
restore sys.modules and re-importing jax in one process aborts it.
"""
try:
    import jax  # noqa: F401
except ImportError:  # the jax extra is optional; tests that need it skip
    pass

pytest_plugins = []

# The longest modules first: pytest-xdist's loadscope hands whole modules to the workers in
# collection order, so starting the long ones first keeps every worker busy until the end.
LONGEST_FIRST = ("test_audit_integrity.py", "test_docs.py", "test_audit_sandbox.py", "test_install.py",
                 "test_plugin.py", "test_audit.py", "test_audit_contracts.py", "test_properties_mlp.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))
