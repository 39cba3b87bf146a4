"""The one error type the core raises for a broken rule, so adapters can report it cleanly."""


class MigrationError(Exception):
    """A rule of the migration was broken; the message names the rule and the value."""


class ConfigError(MigrationError):
    """The migration config (or a Param) is invalid."""


class PreflightError(MigrationError):
    """The database is not in a state where the phase may start."""


class GateClosed(MigrationError):
    """A gate (validation, rehearsal, previous tier, approval) did not allow the step."""
