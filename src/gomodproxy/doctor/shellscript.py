"""The shell of run steps (``RUN``, a workflow step's ``run:``, a GitLab ``script:`` line) as
a list of simple commands. Pure.

Not a shell and not a full parser: it reads what decides the go command's environment —
``NAME=value cmd`` prefixes, ``export``, ``go env -w``, lines appended to ``$GITHUB_ENV``
(``echo K=V >> "$GITHUB_ENV"``, ``... | tee -a "$GITHUB_ENV"``, ``cat <<EOF >> $GITHUB_ENV``)
and which commands run go. It splits on ``;``, ``&&``, ``||``, ``|``, ``&``, newlines and
parentheses outside quotes, keeps ``$(...)``, backticks and ``${...}`` inside their word, skips
comments and reads here-documents as the input of their command. Compound-command keywords
(``if``, ``then``, ``do``, ``{`` ...) in front of a command are dropped; whatever it does not
understand becomes a command nobody looks at, so it never fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gomodproxy.doctor import shellwords

_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_KEYWORDS = frozenset(
    ["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "{", "}", "!", "time"]
)
_WRAPPERS = frozenset(["sudo", "env", "command", "exec", "nohup"])
_OPERATORS = ("&&", "||", ";;", ";", "|", "&", "(", ")")
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_REDIRECT = re.compile(r"(\d*)(>>|>\||>&|&>>|&>|>|<<<|<&|<)")
#: go subcommands that only print (they run go, but fetch and build nothing).
_GO_QUERIES = frozenset(["env", "version", "help"])


@dataclass
class Command:
    """One simple command of a script."""

    #: words after the assignments, raw (quotes and ``$`` kept).
    words: list[str]
    #: ``NAME=value`` prefixes, raw values.
    assigns: list[tuple[str, str]]
    #: redirections: (operator, raw target).
    redirects: list[tuple[str, str]]
    #: 0-based line of the script the command starts on.
    line: int
    #: the text of a here-document fed to the command, None when there is none.
    heredoc: str | None = None
    #: the command whose output this one reads through ``|``, None when there is none.
    stdin_from: Command | None = None

    def word(self, i: int) -> str:
        """Word ``i`` with quotes removed ("" when there is none)."""
        return shellwords.expand(self.words[i], None).text if i < len(self.words) else ""

    @property
    def name(self) -> str:
        """The command's name without its directory (``go`` for ``/usr/local/go/bin/go``)."""
        return self.word(0).rsplit("/", 1)[-1]

    def go_subcommand(self) -> str:
        """``build``, ``mod download``, ``env`` ... when this runs the go command, else ""."""
        if self.name != "go" or len(self.words) < 2:
            return ""
        sub = self.word(1)
        if sub in ("mod", "work") and len(self.words) > 2:
            return f"{sub} {self.word(2)}"
        return sub if re.fullmatch(r"[a-z]+", sub) else ""

    def fetches(self) -> bool:
        """True when this go command can download modules or build (not `go env`/`version`)."""
        sub = self.go_subcommand()
        return bool(sub) and sub not in _GO_QUERIES

    def text(self) -> str:
        """The command as written (assignments and words, quotes kept)."""
        return " ".join([*(f"{k}={v}" for k, v in self.assigns), *self.words])


@dataclass
class _Reader:
    script: str
    pos: int = 0
    line: int = 0
    out: list[Command] = field(default_factory=list)
    #: here-documents waiting for the end of the current line: (command, delimiter, strip).
    pending: list[tuple[Command, str, bool]] = field(default_factory=list)

    def peek(self, n: int = 1) -> str:
        return self.script[self.pos : self.pos + n]

    def word(self) -> str:
        """Read one word: quotes, escapes, ``$(...)``, ``${...}`` and backticks kept whole."""
        s, depth = self.script, 0
        buf: list[str] = []
        while self.pos < len(s):
            c = s[self.pos]
            if depth == 0 and (c in " \t\n;&|()<>" or (c == "#" and not buf)):
                break
            if c == "\\" and self.pos + 1 < len(s):
                if s[self.pos + 1] == "\n":
                    self.line += 1
                else:
                    buf.append(s[self.pos : self.pos + 2])
                self.pos += 2
                continue
            if c in "'\"`":
                end = self._quote_end(c)
                buf.append(s[self.pos : end])
                self.line += s.count("\n", self.pos, end)
                self.pos = end
                continue
            if c == "$" and self.peek(2) in ("$(", "${"):
                buf.append(self.peek(2))
                self.pos += 2
                depth += 1
                continue
            if depth and c in ")}":
                depth -= 1
            elif depth and c == "(":
                depth += 1
            if c == "\n":
                self.line += 1
            buf.append(c)
            self.pos += 1
        return "".join(buf)

    def _quote_end(self, q: str) -> int:
        s, i = self.script, self.pos + 1
        while i < len(s):
            if s[i] == "\\" and q != "'" and i + 1 < len(s):
                i += 2
                continue
            if s[i] == q:
                return i + 1
            i += 1
        return len(s)

    def skip_blanks(self) -> None:
        while self.pos < len(self.script):
            c = self.script[self.pos]
            if c in " \t":
                self.pos += 1
            elif c == "\\" and self.peek(2) == "\\\n":
                self.pos += 2
                self.line += 1
            elif c == "#":
                while self.pos < len(self.script) and self.script[self.pos] != "\n":
                    self.pos += 1
            else:
                return

    def newline(self) -> None:
        """Consume a newline and the bodies of the here-documents opened on that line."""
        self.pos += 1
        self.line += 1
        for cmd, delim, strip in self.pending:
            body: list[str] = []
            while self.pos < len(self.script):
                end = self.script.find("\n", self.pos)
                end = len(self.script) if end < 0 else end
                text = self.script[self.pos : end]
                self.pos, self.line = end + 1, self.line + 1
                if (text.lstrip("\t") if strip else text) == delim:
                    break
                body.append(text)
            cmd.heredoc = "\n".join(body)
        self.pending = []

    def command(self) -> tuple[Command, str]:
        """Read one simple command and the operator that ends it ("" at the end)."""
        cmd = Command([], [], [], self.line)
        while True:
            self.skip_blanks()
            if self.pos >= len(self.script):
                return cmd, ""
            c = self.script[self.pos]
            if c == "\n":
                self.newline()
                if cmd.words or cmd.assigns:
                    return cmd, "\n"
                cmd.line = self.line
                continue
            op = next((o for o in _OPERATORS if self.script.startswith(o, self.pos)), "")
            if op:
                self.pos += len(op)
                return cmd, op
            m = _HEREDOC.match(self.script, self.pos)
            if m:
                self.pos = m.end()
                self.pending.append((cmd, m[3], m[1] == "-"))
                continue
            m = _REDIRECT.match(self.script, self.pos)
            if m:
                self.pos = m.end()
                self.skip_blanks()
                cmd.redirects.append((m[2], self.word()))
                continue
            w = self.word()
            if not w:  # an unmatched character: step over it
                self.pos += 1
                continue
            a = _ASSIGN.match(w)
            if a and not cmd.words:
                cmd.assigns.append((a[1], a[2]))
            elif not cmd.words and (w in _WRAPPERS or (not cmd.assigns and w in _KEYWORDS)):
                continue
            else:
                cmd.words.append(w)


def commands(script: str) -> list[Command]:
    """The simple commands of ``script`` in order; never raises."""
    r = _Reader(script)
    prev_pipe: Command | None = None
    while r.pos < len(script):
        cmd, op = r.command()
        if cmd.words or cmd.assigns or cmd.redirects:
            cmd.stdin_from = prev_pipe
            r.out.append(cmd)
        prev_pipe = cmd if op == "|" else None
    return r.out


# ---------------------------------------------------------------------------------------------
# What a command does to the environment


def exported(cmd: Command) -> list[tuple[str, str]]:
    """``export K=V`` / ``declare -x K=V`` pairs (raw values); ``export K`` gives no pair."""
    if cmd.name not in ("export", "declare", "typeset") or cmd.assigns:
        return []
    words = [w for w in cmd.words[1:] if not w.startswith("-")]
    if cmd.name != "export" and "-x" not in cmd.words:
        return []
    return [(m[1], m[2]) for w in words if (m := _ASSIGN.match(w))]


def go_env_writes(cmd: Command) -> list[tuple[str, str]]:
    """The ``K=V`` pairs of ``go env -w K=V ...`` (raw values)."""
    if cmd.go_subcommand() != "env" or "-w" not in [cmd.word(i) for i in range(len(cmd.words))]:
        return []
    return [(m[1], m[2]) for w in cmd.words[2:] if (m := _ASSIGN.match(w))]


_ENV_FILE = re.compile(r"^\$\{?(GITHUB_ENV)\}?$")


def _names_file(raw: str, var: str) -> bool:
    m = _ENV_FILE.match(shellwords.expand(raw, None).text)
    return m is not None and m[1] == var


def _printed(cmd: Command) -> list[str]:
    """The lines ``echo``/``printf`` prints, raw ("" words for what cannot be told)."""
    if cmd.name == "echo":
        return [" ".join(w for w in cmd.words[1:] if not re.fullmatch(r"-[neE]+", w))]
    if cmd.name == "printf" and len(cmd.words) > 1:
        fmt = cmd.words[1]
        if "%s" in fmt or len(cmd.words) == 2:
            args = cmd.words[2:]
            text = fmt
            for a in args:
                text = text.replace("%s", a, 1)
            return re.split(r"\\n", text)
    if cmd.name == "cat" and cmd.heredoc is not None:
        return cmd.heredoc.split("\n")
    return []


def file_appends(cmd: Command, var: str = "GITHUB_ENV") -> list[str]:
    """Raw lines this command appends to the file named by ``$var`` (``>>``, ``tee -a``)."""
    if any(op in (">>", "&>>") and _names_file(t, var) for op, t in cmd.redirects):
        return _printed(cmd)
    if cmd.name == "tee" and "-a" in cmd.words and any(_names_file(w, var) for w in cmd.words):
        src = cmd.stdin_from
        return _printed(src) if src is not None else []
    return []


def env_file_pairs(lines: list[str]) -> list[tuple[str, str]]:
    """``K=V`` pairs of lines written to ``$GITHUB_ENV`` (one word each, quotes kept)."""
    out = []
    for raw in lines:
        text = shellwords.expand(raw.strip(), None).text if raw.strip()[:1] in "'\"" else raw
        m = _ASSIGN.match(text.strip().strip("'\""))
        if m:
            out.append((m[1], m[2].strip("'\"")))
    return out


_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def references(cmd: Command) -> set[str]:
    """Names of the variables the command reads (``$X``, ``${X}``), outside single quotes."""
    found: set[str] = set()
    for w in [*cmd.words, *(v for _, v in cmd.assigns), *(t for _, t in cmd.redirects)]:
        for part in re.split(r"'[^']*'", w):
            found.update(_REF.findall(part))
    return found


def assigned(cmd: Command) -> set[str]:
    """Names this command assigns as shell variables (``X=...`` alone, ``read X``, ``export``)."""
    if not cmd.words:
        return {k for k, _ in cmd.assigns}
    if cmd.name in ("export", "declare", "typeset", "local", "readonly"):
        return {w.partition("=")[0] for w in cmd.words[1:] if not w.startswith("-")}
    if cmd.name == "read":
        return {w for w in cmd.words[1:] if not w.startswith("-")}
    if cmd.name == "for" and len(cmd.words) > 1:
        return {cmd.words[1]}
    return set()


#: a variable inside the user-info of a URL: ``https://${TOKEN}@host``, ``https://u:$PASS@h``.
_CRED_IN_URL = re.compile(r"://[^\s/@'\"]*?\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?[^\s/@'\"]*@")


def credential_refs(cmd: Command) -> list[str]:
    """Variables used as the user-info of a URL in the command's words."""
    return [n for w in cmd.words for n in _CRED_IN_URL.findall(w)]
