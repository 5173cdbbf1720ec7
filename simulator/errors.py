"""User-facing errors.

Every problem a user can fix (bad scenario value, bad TLE, missing file, existing output) is raised as a
:class:`StartrailError`. The command line prints it as one line and exits with status 2; library users can
catch it. The message names the offending field and says how to fix it.
"""


class StartrailError(Exception):
    """A problem with the user's input; printed as one line by the CLI (exit status 2)."""


class ScenarioError(StartrailError):
    """A bad value in a scenario (or another input), naming the field, the problem and the fix.

    ``field`` is the dotted TOML path (e.g. ``"camera.focal_length"``) or a command-line option
    (e.g. ``"--output"``).
    """

    def __init__(self, field: str, problem: str, fix: str | None = None):
        self.field = field
        self.problem = problem
        self.fix = fix
        text = f"{field}: {problem}"
        if fix:
            text += f"; {fix}"
        super().__init__(text)
