"""A multi-step flow as a plain object: which step comes next, which one Back returns to.

In the spirit of Electrum's `AbstractWizard`: the flow keeps the accumulated state (a
session object of the caller's type) and the history of visited steps; a window only
renders the step it is given and reports what the person did. No Qt here.

A flow is an ordered list of named *stages*. Each stage looks at the session and says
which steps it contributes now (none, one, or one per question) and whether a step is
done. The step order is simply the stages' steps, in order; a new capability adds a stage
`after=` or `before=` an existing one and touches no other stage:

    journey.flow.insert(ChipStage(reader), after="identify")
    journey.flow.insert(FeeStage(), before="review")

The citizen's journey (kiosk.services.journey) is one flow; feedback or a language
studio are others, built from their own stages on the same class.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

S = TypeVar("S")


@dataclass(frozen=True)
class Step:
    """One screen of a flow: which screen, and which item of a stage it shows.

    `key` names the item (a question's or a document's key), `index`/`total` place it
    among its stage's steps ("question 2 of 5").
    """

    screen: str
    key: str = ""
    index: int = 0
    total: int = 1
    stage: str = ""

    @property
    def ident(self) -> tuple[str, str]:
        return self.screen, self.key


class Stage(Generic[S]):
    """A named part of a flow. Subclasses override `steps`, and `done`/`undo` as needed."""

    name: str = ""

    def steps(self, session: S) -> Sequence[Step]:
        """The steps this stage contributes given the session now (may be none)."""
        return ()

    def done(self, step: Step, session: S) -> bool:
        """Whether `step` has what it needs for the flow to move past it."""
        return True

    def undo(self, step: Step, session: S) -> None:
        """Back leaves `step`: drop what only that step decided (e.g. 'this is me')."""


class FlowError(RuntimeError):
    pass


@dataclass
class _Visit:
    step: Step
    detour: bool = False  # reached from a later step (e.g. the review's Change)


class Flow(Generic[S]):
    """The step order of one flow and the stack of steps visited."""

    def __init__(self, session: S, stages: Iterable[Stage[S]] = ()) -> None:
        self.session = session
        self.stages: list[Stage[S]] = []
        for stage in stages:
            self.insert(stage)
        self._stack: list[_Visit] = []

    # Stages ---------------------------------------------------------------------------
    def insert(
        self, stage: Stage[S], *, after: str | None = None, before: str | None = None
    ) -> None:
        """Add a stage at the end, or right after/before the stage of that name."""
        if not stage.name or stage.name in self.names():
            raise FlowError(f"stage needs a unique name, got {stage.name!r}")
        if after is not None and before is not None:
            raise FlowError("give after= or before=, not both")
        if after is None and before is None:
            self.stages.append(stage)
            return
        anchor = after if after is not None else before
        if anchor not in self.names():
            raise FlowError(f"no stage named {anchor!r}; stages: {', '.join(self.names())}")
        at = self.names().index(anchor) + (1 if after is not None else 0)
        self.stages.insert(at, stage)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage(self, name: str) -> Stage[S]:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise FlowError(f"no stage named {name!r}")

    def path(self) -> list[Step]:
        """Every step of the flow as the session stands now, in order."""
        out: list[Step] = []
        for stage in self.stages:
            out.extend(replace(step, stage=stage.name) for step in stage.steps(self.session))
        return out

    def find(self, screen: str, key: str = "") -> Step | None:
        return next((s for s in self.path() if s.ident == (screen, key)), None)

    # Moving ---------------------------------------------------------------------------
    @property
    def current(self) -> Step | None:
        return self._stack[-1].step if self._stack else None

    @property
    def in_detour(self) -> bool:
        return bool(self._stack) and self._stack[-1].detour

    def history(self) -> list[Step]:
        return [v.step for v in self._stack]

    def reset(self) -> None:
        self._stack.clear()

    def _done(self, step: Step) -> bool:
        return self.stage(step.stage).done(step, self.session)

    def next(self) -> Step:
        """The step to show after the current one; the current one while it is not done.

        From a detour (a step reached from a later one) it returns to where it came from.
        """
        path = self.path()
        if not path:
            raise FlowError("the flow has no steps")
        cur = self.current
        if cur is None:
            self._stack.append(_Visit(path[0]))
            return path[0]
        if not self._done(cur):
            return cur
        if self.in_detour:
            self._stack.pop()
            return self._stack[-1].step
        idents = [s.ident for s in path]
        if cur.ident not in idents:  # the path changed under it: the first unfinished step
            target = next((s for s in path if not self._done(s)), path[-1])
        else:
            i = idents.index(cur.ident)
            if i + 1 >= len(path):
                return cur  # the last step: the flow ends by an action, not by Next
            target = path[i + 1]
        self._stack.append(_Visit(target))
        return target

    def back(self) -> Step | None:
        """The step before the current one, or None when Back leaves the flow."""
        if not self._stack:
            return None
        left = self._stack.pop()
        self.stage(left.step.stage).undo(left.step, self.session)
        return self.current

    def detour(self, screen: str, key: str = "") -> Step:
        """Jump from the current step to an earlier one (a review's Change); its Next and
        Back both return here."""
        step = self.find(screen, key)
        if step is None:
            raise FlowError(f"no step {screen}/{key} in this flow")
        self._stack.append(_Visit(step, detour=True))
        return step

    def jump(self, step: Step) -> Step:
        """Make `step` the current one with the flow's own steps before it as history
        (samples for screenshots, a resumed flow)."""
        self._stack.clear()
        for s in self.path():
            self._stack.append(_Visit(s))
            if s.ident == step.ident:
                return s
        raise FlowError(f"no step {step.screen}/{step.key} in this flow")
