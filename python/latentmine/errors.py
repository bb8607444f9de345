"""Errors that the command line reports as a failed command (exit status 2), not a crash."""


class Starvation(RuntimeError):
    """A round of the loop could acquire nothing: the validity gate rejected every proposal,
    or the strategy proposed nothing while samples were requested.

    The loop raises it before anything of the round is stored, so F never trains
    on an empty set and a fixed run (another gate, strategy or data) can resume.
    """


class PoolExhausted(Starvation):
    """The strategy proposed nothing because no pool sample is left to label; the loop stops there."""
