"""Errors udabench raises on purpose: each names the bad input and the fix."""


class UdabenchError(Exception):
    """An error the CLI prints as one clear message, without a traceback."""


class UnknownNameError(UdabenchError, KeyError):
    """A method, dataset, backbone or task name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConfigError(UdabenchError, ValueError):
    """A hyperparameter override that is unknown or of the wrong type."""


class WeightsUnavailableError(UdabenchError, FileNotFoundError):
    """Backbone weights that are neither on disk nor downloadable from here."""


class DataError(UdabenchError, FileNotFoundError):
    """A data root that lacks what a dataset needs."""


class PluginError(UdabenchError):
    """A plugin that could not be loaded or that breaks the contract."""


class NonFiniteLossError(FloatingPointError):
    """A training loss that became NaN or infinite (``RunContext.step``): the run diverged.

    Not a UdabenchError on purpose: it is the failure of one run, not bad input that fails every
    run alike, so the run is marked FAILED with this message and the command goes on with the
    others."""
