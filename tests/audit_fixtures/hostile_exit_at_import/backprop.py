"""Hostile: sys.exit(0) while being imported (hoping the grader reads exit status 0 as success)."""
import sys

sys.exit(0)
