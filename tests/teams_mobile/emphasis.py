"""Text and emphasis (``EmphasisParser`` in ``MarkDownBlockParser.cpp``): characters, backslashes dropped before
``[ ] ) * _`` and line breaks, and runs of ``*`` or ``_`` classified by what stands before and after them."""

from __future__ import annotations

from tests.teams_mobile.tokens import STOPS, Emphasis, Result, Stream, Token, is_alnum, is_punct, is_space


class TextRun:
    """One text run: characters, and runs of * or _ classified by what stands before and after them."""

    def __init__(self) -> None:
        self.behind = "init"  # init, alnum, space, punct or escape: the character before
        self.count = 0
        self.char = ""
        self.check_ahead = self.check_intra = False
        self.token = ""
        self.result = Result()

    def run(self, stream: Stream) -> None:
        in_run = False
        while True:
            step = self._in_run(stream) if in_run else self._in_text(stream)
            if step is None:
                return
            in_run = step

    def _in_text(self, stream: Stream) -> bool | None:
        char = stream.peek()
        if not char or (self.behind != "escape" and char in STOPS):
            self._flush_text()
            return None
        if char in "*_" and self.behind != "escape":
            self._flush_text()
            if stream.pos:
                self._look(stream.text[stream.pos - 1])
            self._grow_run(char)
            self.token += stream.get()
            return True
        if self.behind == "escape" and char in STOPS + "*_":
            self.token = self.token[:-1]  # the backslash
        self._look(char)
        self.token += stream.get()
        return False

    def _in_run(self, stream: Stream) -> bool | None:
        char = stream.peek()
        if not char or char in STOPS:
            self._end_run(char)
            return None
        if char in "*_" and self.behind != "escape":
            if char == self.char:
                self._grow_run(char)
            self.token += stream.get()
            return True
        self._end_run(char)
        if char == "\\":
            stream.get()
        self._look(stream.peek())
        self.token += stream.get()
        return False

    def _grow_run(self, char: str) -> None:
        if self.behind != "space":
            self.check_ahead = self.behind == "punct"
            self.check_intra = self.behind == "alnum" and char == "_"
        self.count += 1
        self.char = char

    def _end_run(self, after: str) -> None:
        kind = (
            ("both" if self._opens(after) else "right") if self._closes(after) else "left" if self._opens(after) else ""
        )
        if kind:
            run = Emphasis(self.token, kind=kind, char=self.char, unused=self.count)
            self.result.emphases.append(run)
            self.result.add(run)
        elif self.token:
            self.result.add(Token(self.token))
        self.token = ""
        self.count = 0

    def _opens(self, after: str) -> bool:
        return (
            self.count > 0
            and bool(after)
            and not is_space(after)
            and not (self.behind == "alnum" and (is_punct(after) or self.char == "_"))
        )

    def _closes(self, after: str) -> bool:
        flanked = self.check_ahead or self.check_intra or self.char == "*"
        if (not after or is_space(after)) and self.behind != "space" and flanked:
            return True
        if is_alnum(after) and self.behind not in ("space", "init"):
            return not (self.check_ahead or self.check_intra)
        return is_punct(after) and self.behind != "space"

    def _look(self, char: str) -> None:
        if is_alnum(char):
            self.behind = "alnum"
        elif is_space(char):
            self.behind = "space"
        elif is_punct(char):
            self.behind = "escape" if char == "\\" else "punct"

    def _flush_text(self) -> None:
        if self.token:
            self.result.add(Token(self.token))
        self.token = ""


def text_run(stream: Stream, result: Result) -> None:
    text = TextRun()
    text.run(stream)
    result.take(text.result)
