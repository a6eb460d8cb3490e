"""modfile's lexer and parser (golang.org/x/mod/modfile/read.go): go.mod text to lines and
blocks of tokens, with comments attached where modfile attaches them.

Theory of operation. The lexer keeps one token of lookahead, as Go's does, because syntax
errors are reported at the lexer's position, which is past that token. Whole-line comments
come to the parser as tokens: a run of them directly above a statement becomes its
``before``; inside a block, the comments (and blank-line markers) above a line become the
line's. End-of-line comments are collected and, once the file is parsed, each goes to the
last expression (in post-order: a block's "(", its lines, its ")", then the block) that ends
before it and sits on one line. Positions count runes; the byte offset is only compared, so
a character index serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gomodproxy.gomod._gostr import is_print, quote_rune
from gomodproxy.gomod._gostrings import go_is_space, go_trim_space

__all__ = ["Block", "Comment", "Expr", "Line", "ModSyntaxError", "Pos", "at", "parse_syntax"]


@dataclass(frozen=True)
class Pos:
    line: int
    rune: int
    byte: int  # an index into the text: only its order matters

    def add(self, s: str) -> Pos:
        """The position after ``s`` (one line of text: only "(" and ")" are added)."""
        return Pos(self.line, self.rune + len(s), self.byte + len(s))


@dataclass
class Comment:
    start: Pos | None
    token: str
    suffix: bool = False


@dataclass(eq=False)
class Expr:
    start: Pos
    end: Pos
    before: list[Comment] = field(default_factory=list)
    suffix: list[Comment] = field(default_factory=list)


@dataclass(eq=False)
class Line(Expr):
    tokens: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Block(Expr):
    tokens: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    lparen: Expr | None = None
    rparen: Expr | None = None


_EOF, _EOLCOMMENT, _IDENT, _STRING, _COMMENT = "EOF", "EOLCOMMENT", "IDENT", "STRING", "COMMENT"


@dataclass
class _Token:
    kind: str  # one of the names above, or the punctuation character itself
    pos: Pos
    end: Pos
    text: str


def _is_eol(kind: str) -> bool:
    return kind in (_EOF, _EOLCOMMENT, "\n")


def _is_ident(c: str) -> bool:
    if c in " ()[]{},":
        return False
    if "\ud800" <= c <= "\udfff":  # an invalid byte: Go sees U+FFFD, which is printable
        return True
    return not go_is_space(c) and is_print(c)


class _SyntaxError(Exception):
    pass


class _Input:
    """modfile's lexer and parser: one token of lookahead, errors at the lexer position."""

    def __init__(self, filename: str, text: str) -> None:
        self.filename = filename
        self.text = text
        self.i = 0
        self.pos = Pos(1, 1, 0)
        self.comments: list[Comment] = []
        self.stmts: list[Line | Block] = []
        self.token = _Token(_EOF, self.pos, self.pos, "")
        self.error: str = ""

    def fail(self, msg: str) -> None:
        self.error = at(self.filename, self.pos, msg)
        raise _SyntaxError

    def peek_rune(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def read_rune(self) -> str:
        c = self.text[self.i]
        self.i += 1
        if c == "\n":
            self.pos = Pos(self.pos.line + 1, 1, self.pos.byte + 1)
        else:
            self.pos = Pos(self.pos.line, self.pos.rune + 1, self.pos.byte + 1)
        return c

    def end_token(self, kind: str, start_i: int, start: Pos) -> None:
        text = self.text[start_i : self.i]
        if kind in (_COMMENT, _EOLCOMMENT):
            text = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
        self.token = _Token(kind, start, self.pos, text)

    def read_token(self) -> None:
        while self.i < len(self.text):
            c = self.peek_rune()
            if c in " \t\r":
                self.read_rune()
                continue
            if self.text.startswith("//", self.i):
                start_i, start = self.i, self.pos
                line_start = self.text.rfind("\n", 0, self.i) + 1
                suffix = go_trim_space(self.text[line_start : self.i]) != ""
                self.read_rune()
                self.read_rune()
                while self.i < len(self.text) and self.read_rune() != "\n":
                    pass
                if not suffix:
                    self.end_token(_COMMENT, start_i, start)
                    return
                self.end_token(_EOLCOMMENT, start_i, start)
                self.comments.append(Comment(self.token.pos, self.token.text, True))
                return
            if self.text.startswith("/*", self.i):
                self.fail("mod files must use // comments (not /* */ comments)")
            break
        start_i, start = self.i, self.pos
        if self.i == len(self.text):
            self.end_token(_EOF, start_i, start)
            return
        c = self.peek_rune()
        if c in "\n()[]{},":
            self.read_rune()
            self.end_token(c, start_i, start)
            return
        if c in '"`':
            self.read_rune()
            while True:
                if self.i == len(self.text):
                    self.pos = start
                    self.fail("unexpected EOF in string")
                if self.peek_rune() == "\n":
                    self.fail("unexpected newline in string")
                d = self.read_rune()
                if d == c:
                    break
                if d == "\\" and c != "`":
                    if self.i == len(self.text):
                        self.pos = start
                        self.fail("unexpected EOF in string")
                    self.read_rune()
            self.end_token(_STRING, start_i, start)
            return
        if not _is_ident(c):
            self.fail(f"unexpected input character {quote_rune(c)}")
        while self.i < len(self.text) and _is_ident(self.peek_rune()):
            if self.text.startswith("//", self.i):
                break
            if self.text.startswith("/*", self.i):
                self.fail("mod files must use // comments (not /* */ comments)")
            self.read_rune()
        self.end_token(_IDENT, start_i, start)

    def lex(self) -> _Token:
        tok = self.token
        self.read_token()
        return tok

    def parse_file(self) -> None:
        block: list[Comment] | None = None
        while True:
            kind = self.token.kind
            if kind == "\n":
                self.lex()
                block = None  # a comment block standing alone attaches to nothing we read
            elif kind == _COMMENT:
                tok = self.lex()
                block = (block or []) + [Comment(tok.pos, tok.text)]
            elif kind == _EOF:
                return
            else:
                self.parse_stmt()
                if block is not None:
                    self.stmts[-1].before = block
                    block = None

    def parse_stmt(self) -> None:
        tok = self.lex()
        start, end, tokens = tok.pos, tok.end, [tok.text]
        while True:
            tok = self.lex()
            if _is_eol(tok.kind):
                self.stmts.append(Line(start, end, tokens=tokens))
                return
            if tok.kind == "(":
                nxt = self.token.kind
                if _is_eol(nxt):
                    self.stmts.append(self.parse_block(start, tokens, tok))
                    return
                if nxt == ")":
                    rparen = self.lex()
                    if _is_eol(self.token.kind):
                        self.lex()
                        self.stmts.append(
                            Block(
                                start,
                                rparen.pos.add(")"),
                                tokens=tokens,
                                lparen=Expr(tok.pos, tok.pos.add("(")),
                                rparen=Expr(rparen.pos, rparen.pos.add(")")),
                            )
                        )
                        return
                    tokens += [tok.text, rparen.text]
                else:
                    tokens.append(tok.text)
            else:
                tokens.append(tok.text)
                end = tok.end

    def parse_block(self, start: Pos, tokens: list[str], lparen: _Token) -> Block:
        block = Block(start, start, tokens=tokens, lparen=Expr(lparen.pos, lparen.pos.add("(")))
        comments: list[Comment] = []
        while True:
            kind = self.token.kind
            if kind == _EOLCOMMENT:
                self.lex()
            elif kind == "\n":
                self.lex()
                if (not comments and block.lines) or (comments and comments[-1].token != ""):
                    comments.append(Comment(None, ""))
            elif kind == _COMMENT:
                tok = self.lex()
                comments.append(Comment(tok.pos, tok.text))
            elif kind == _EOF:
                self.fail(
                    "syntax error (unterminated block started at "
                    f"{self.filename}:{start.line}:{start.rune})"
                )
            elif kind == ")":
                rparen = self.lex()
                block.rparen = Expr(rparen.pos, rparen.pos.add(")"))
                block.end = block.rparen.end
                if not _is_eol(self.token.kind):
                    self.fail("syntax error (expected newline after closing paren)")
                self.lex()
                return block
            else:
                line = self.parse_line()
                line.before = comments
                block.lines.append(line)
                comments = []

    def parse_line(self) -> Line:
        tok = self.lex()
        start, end, tokens = tok.pos, tok.end, [tok.text]
        while True:
            tok = self.lex()
            if _is_eol(tok.kind):
                return Line(start, end, tokens=tokens)
            tokens.append(tok.text)
            end = tok.end

    def assign_suffix_comments(self) -> None:
        # Each end-of-line comment goes to the last expression, in post-order, that ends at or
        # before it and fits on one line (modfile's assignComments; whole-line comments were
        # attached by the parser already).
        post: list[Expr] = []
        for stmt in self.stmts:
            if isinstance(stmt, Block):
                assert stmt.lparen is not None
                assert stmt.rparen is not None
                post += [stmt.lparen, *stmt.lines, stmt.rparen]
            post.append(stmt)
        suffix = list(self.comments)
        for x in reversed(post):
            if x.start.line != x.end.line:
                continue
            while suffix and suffix[-1].start is not None and x.end.byte <= suffix[-1].start.byte:
                x.suffix.insert(0, suffix.pop())


class ModSyntaxError(Exception):
    """A syntax error; ``str()`` is modfile's text with the position."""


def parse_syntax(filename: str, text: str) -> list[Line | Block]:
    """The statements of a go.mod text: lines and blocks with their comments.

    Raises:
        ModSyntaxError: the first syntax error, as modfile reports it.
    """
    inp = _Input(filename, text)
    try:
        inp.read_token()
        inp.parse_file()
    except _SyntaxError:
        raise ModSyntaxError(inp.error) from None
    inp.assign_suffix_comments()
    return inp.stmts


def at(filename: str, pos: Pos, text: str) -> str:
    """modfile.Error's position prefix: the column only when it is past the first."""
    if pos.rune > 1:
        return f"{filename}:{pos.line}:{pos.rune}: {text}"
    return f"{filename}:{pos.line}: {text}"
