"""The reference networks, wherever the installed layout puts them."""
try:
    from gradcheck import reference_nets as rn
except ImportError:  # the top-level package of older layouts
    import reference_nets as rn

__all__ = ["rn"]
