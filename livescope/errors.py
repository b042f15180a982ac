"""User-facing errors: one line that says what was wrong and what to do."""


class LivescopeError(Exception):
    """An error caused by input or set-up, shown to the user as one line (no traceback)."""

    def __init__(self, problem: str, hint: str = ""):
        self.problem = problem
        self.hint = hint
        super().__init__(f"{problem} {hint}".strip())

    def one_line(self) -> str:
        text = f"error: {self.problem}"
        if self.hint:
            text += f" - {self.hint}"
        return " ".join(text.split())
