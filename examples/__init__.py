"""The examples that `gradcheck demo` runs (shipped inside the package; see README.md here)."""
