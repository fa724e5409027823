"""Hostile: exceptions whose __str__ raises, or is 50 MB long."""


class Nasty(Exception):
    def __str__(self):
        raise RuntimeError("no message for you")

    def __repr__(self):
        raise RuntimeError("nor a repr")


class Huge(Exception):
    pass


def forward(params, x):
    raise Nasty()


def backward(params, x, t):
    raise Huge("x" * 50_000_000)


class Meta(type):
    @property
    def __name__(cls):
        raise RuntimeError("no name either")


class Nameless(Exception, metaclass=Meta):
    pass


def input_jacobian(params, x):
    raise Nameless()
