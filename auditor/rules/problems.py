"""Rule-pack problems: collected while loading, then raised together as one RulePackError."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.errors import RulePackError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a rule pack, where it is and how to fix it."""

    file: str
    line: int | None
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message} ({self.fix})" if self.fix else f"{where}: {self.message}"


class RulePackProblems(RulePackError):
    """A RulePackError that also carries every problem as a value, for tools and tests."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        count = len(problems)
        header = f"{count} problem{'s' if count != 1 else ''} in rule packs:"
        super().__init__("\n".join([header, *(f"  {p}" for p in problems)]))


class ProblemLog:
    """Collects problems from every pack so that one error can list them all."""

    def __init__(self) -> None:
        self._problems: list[tuple[int, int, Problem]] = []
        self._files: dict[str, int] = {}

    def add(self, file: str, line: int | None, message: str, fix: str = "") -> None:
        order = self._files.setdefault(file, len(self._files))
        self._problems.append((order, line or 0, Problem(file, line, message, fix)))

    def __len__(self) -> int:
        return len(self._problems)

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Problems by file (in loading order), then by line; ties keep the order they were found."""
        return tuple(p for _, _, p in sorted(self._problems, key=lambda t: (t[0], t[1])))

    def raise_if_any(self) -> None:
        """Raise one RulePackProblems listing every problem, if there is any."""
        if self._problems:
            raise RulePackProblems(self.problems)
