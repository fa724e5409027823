"""The bug catalog: mistakes students make in backprop, each a switch on the reference.

``backprop(..., bug=name)`` and ``input_jacobian(..., bug=name)`` compute the gradient a
student with that mistake would get, so a wrong answer can be matched to its cause
(see ``diagnose``).  Every entry is computable for any spec; where a mistake needs
shapes the spec does not have (a transpose of a non-square W) those layers stay correct,
and ``Bug.applies(spec)`` says whether the mistake changes anything at all.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

_SMOOTH = ("logistic", "tanh")  # activations whose φ' is never exactly 0 or 1


@dataclass(frozen=True)
class Bug:
    """One catalog entry. ``functions`` lists where the switch exists: "backprop", "jacobian"."""

    name: str
    title: str
    description: str
    functions: tuple = ("backprop",)
    feedback: str = ""   # to a student: a sentence about "your {what}" (a gradient, the Jacobian); no notes
    formula: str = ""    # the mistake as a formula, for feedback at full detail

    def applies(self, spec, function: str | None = None) -> bool:
        """True when, for this spec and generic random data (batch > 1, no dead relu layer),
        the buggy result of ``function`` ("backprop" or "jacobian"; None: either) differs from
        the correct one."""
        if function is not None and function not in self.functions:
            return False
        if self.name == "forward_weights_not_transposed" and function != "backprop":
            return bool(_square_layers(spec))  # the Jacobian also goes back through W1
        return _APPLIES[self.name](spec)


def _square_layers(spec, first=1):
    """Layers l >= first whose W is square and at least 2x2 (a 1x1 W equals its transpose)."""
    return [l for l in range(first, spec.n_layers + 1) if spec.sizes[l - 1] == spec.sizes[l] >= 2]


_APPLIES = {
    "no_output_derivative": lambda s: s.layer_activations[-1] in _SMOOTH,
    "no_hidden_derivative": lambda s: any(a in _SMOOTH for a in s.layer_activations[:-1]),
    "derivative_of_output": lambda s: any(a in _SMOOTH for a in s.layer_activations),
    "error_sign_flipped": lambda s: True,
    "missing_half": lambda s: True,
    "batch_mean_instead_of_sum": lambda s: s.target != "mse",
    "batch_sum_instead_of_mean": lambda s: s.target == "mse",
    "bias_from_one_sample": lambda s: bool(s.bias),
    "weight_grad_transposed": lambda s: bool(_square_layers(s)),
    "wrong_layer_activations": lambda s: any(s.sizes[l - 1] == s.sizes[l] for l in range(1, len(s.sizes))),
    "forward_weights_not_transposed": lambda s: bool(_square_layers(s, first=2)),
    "relu_derivative_is_value": lambda s: "relu" in s.layer_activations,
    "jacobian_transposed": lambda s: True,
}

_BOTH = ("backprop", "jacobian")

CATALOG = {b.name: b for b in [
    Bug("no_output_derivative", "forgot φ' at the output layer",
        "δ_out = e instead of e·φ'(v_out). Invisible with a linear output (φ' = 1); with relu it shows "
        "only where an output unit is off.", _BOTH),
    Bug("no_hidden_derivative", "forgot φ' in the hidden layers",
        "δ_hidden = Σ_k δ_k w_jk instead of φ'(v_j)·Σ_k δ_k w_jk. Needs a hidden layer that is not linear.",
        _BOTH),
    Bug("derivative_of_output", "applied φ' to the activation o instead of to net",
        "Uses φ'(o) = φ'(φ(net)), e.g. sigmoid'(sigmoid(v)), where o(1-o) = φ'(net) was meant. "
        "Changes logistic and tanh layers (for tanh only by O(v⁴) near v = 0, so check with |net| around 1); "
        "identical for relu and linear.", _BOTH),
    Bug("error_sign_flipped", "error signal has the wrong sign (t - y instead of y - t)",
        "e = -∂E/∂y, so every gradient is negated: gradient descent climbs the loss."),
    Bug("missing_half", "gradient twice too large (the ½ in ½Σ(y-t)² dropped)",
        "e = 2·∂E/∂y: the derivative of (y-t)² taken while the loss keeps the ½, so every gradient doubles."),
    Bug("batch_mean_instead_of_sum", "divided by the batch size although the loss is a sum",
        "Gradient = (1/N)·correct for targets summed over the batch (all but 'mse'); no change for 'mse' "
        "or a batch of one."),
    Bug("batch_sum_instead_of_mean", "forgot the 1/N of the mean over the batch",
        "Gradient = N·correct for the 'mse' target (Patel's 1/N); no change for summed targets "
        "or a batch of one."),
    Bug("bias_from_one_sample", "bias gradient taken from the first sample only",
        "∂E/∂b = δ[0] instead of Σ_n δ[n] (Patel: ∂L/∂B is ∂L/∂Z summed over the batch). "
        "Weights stay correct; needs bias=True and a batch > 1."),
    Bug("weight_grad_transposed", "weight gradient transposed",
        "Returns (∂E/∂W)^T. Only meaningful for square W (n_in = n_out): for the other layers the "
        "transpose has the wrong shape, so the switch leaves them correct (diagnose still recognises a "
        "transposed non-square gradient by its shape)."),
    Bug("wrong_layer_activations", "used the layer's own outputs instead of the layer below in ∂E/∂W",
        "∂E/∂w_ij = δ_j·y_j instead of δ_j·y_i (o of the layer itself instead of o_a of the layer below). "
        "Defined only where n_in = n_out; other layers stay correct."),
    Bug("forward_weights_not_transposed", "propagated δ back with W instead of W^T",
        "δ_j = φ'(v_j)·Σ_k δ_k w_kj instead of Σ_k δ_k w_jk: the forward matrix reused when going back. "
        "Undefined (a shape error) unless the layer above is square; such layers stay correct.", _BOTH),
    Bug("relu_derivative_is_value", "used relu(v) as relu's derivative",
        "φ'(v) = max(0, v) instead of 1[v > 0] in relu layers.", _BOTH),
    Bug("jacobian_transposed", "Jacobian transposed (∂x/∂y layout)",
        "input_jacobian returns shape (n0, nL) with J[i, k] = ∂y_k/∂x_i instead of (nL, n0). "
        "A bug of input_jacobian only; backprop rejects it.", ("jacobian",)),
]}


# What a student reads when a gradient matches an entry: a sentence about "your {what}" and the
# formula of the mistake.  Instructor notes (where an entry applies, how diagnose works) stay in
# ``description``.
_FEEDBACK = {
    "no_output_derivative": (
        "Your {what} is what backprop gives when the derivative φ' is left out at the output layer.",
        "δ_out = e instead of e·φ'(v_out)"),
    "no_hidden_derivative": (
        "Your {what} is what backprop gives when it forgot φ' in the hidden layers.",
        "δ_hidden = Σ_k δ_k w_jk instead of φ'(v_j)·Σ_k δ_k w_jk"),
    "derivative_of_output": (
        "Your {what} is what backprop gives when φ' is applied to a layer's output o instead of to its net "
        "input v.",
        "φ'(o) = φ'(φ(v)) used where φ'(v) = o(1 − o) was meant"),
    "error_sign_flipped": (
        "Your {what} has the wrong sign: the error signal was taken as t − y instead of y − t.",
        "e = −∂E/∂y"),
    "missing_half": (
        "Your {what} is twice the correct one: the ½ of ½Σ(y − t)² was dropped when differentiating.",
        "e = 2·∂E/∂y"),
    "batch_mean_instead_of_sum": (
        "Your {what} is divided by the batch size, but the loss is a sum over the batch.",
        "(1/N)·Σ_n instead of Σ_n"),
    "batch_sum_instead_of_mean": (
        "Your {what} is N times too large: the loss is a mean over the batch, so its gradient needs the 1/N.",
        "Σ_n instead of (1/N)·Σ_n"),
    "bias_from_one_sample": (
        "Your {what} uses only the first sample of the batch; a bias gradient sums δ over all samples.",
        "∂E/∂b = δ[0] instead of Σ_n δ[n]"),
    "weight_grad_transposed": (
        "Your {what} is the transpose of the correct one.",
        "(∂E/∂W)ᵀ instead of ∂E/∂W"),
    "wrong_layer_activations": (
        "Your {what} multiplies δ by the layer's own outputs instead of the outputs of the layer below.",
        "∂E/∂w_ij = δ_j·y_j instead of δ_j·y_i"),
    "forward_weights_not_transposed": (
        "Your {what} propagates δ back with W instead of Wᵀ.",
        "δ_j = φ'(v_j)·Σ_k δ_k w_kj instead of φ'(v_j)·Σ_k δ_k w_jk"),
    "relu_derivative_is_value": (
        "Your {what} uses relu(v) as relu's derivative; the derivative is 1 where v > 0 and 0 elsewhere.",
        "φ'(v) = max(0, v) instead of 1[v > 0]"),
    "jacobian_transposed": (
        "Your {what} is transposed: row k should hold ∂y_k/∂x_i for every input i, shape (n_L, n_0).",
        "J[i, k] = ∂y_k/∂x_i instead of J[k, i]"),
}
CATALOG = {n: replace(b, feedback=_FEEDBACK[n][0], formula=_FEEDBACK[n][1]) for n, b in CATALOG.items()}


def check_bug(bug, function: str):
    """None or a catalog name that exists for ``function``; ValueError listing the allowed names otherwise."""
    if bug is None:
        return None
    allowed = [n for n, b in CATALOG.items() if function in b.functions]
    if bug not in allowed:
        where = "input_jacobian" if function == "jacobian" else "backprop"
        raise ValueError(f"unknown bug {bug!r} for {where}; allowed: None, {', '.join(allowed)}")
    return bug
