"""The `.bal` front-end: Lark parses the text, a transformer builds `ballast.dsl.ast` nodes.

Syntax errors become diagnostics with a position and a hint; lark's exceptions never leave this
module (this is the one place they are translated).
"""

from __future__ import annotations

import ast as pyast
import itertools
import re
from collections.abc import Callable
from functools import cache
from importlib import resources

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ballast.dsl import ast
from ballast.dsl.parser_cache import cached_lark
from ballast.dsl.problems import SyntaxProblem
from ballast.runtime.errors import Diagnostic, Span
from ballast.runtime.values import parse_duration


@cache
def _parser() -> Lark:
    # Building the LALR tables costs ~125 ms a run; parser_cache loads them from disk instead,
    # keyed by the grammar text, so editing ballast.lark needs no step to refresh anything.
    grammar = resources.files("ballast.dsl").joinpath("ballast.lark").read_text("utf-8")
    return cached_lark(
        grammar,
        {
            "parser": "lalr",
            "start": ["document", "expr", "type_expr", "action_call"],
            "propagate_positions": True,
            "maybe_placeholders": True,
        },
    )


def parse_document(text: str, file: str) -> ast.Document:
    """Parse a whole file; raises SyntaxProblem with a positioned diagnostic."""
    comments: list[tuple[int, int, str]] = []
    tree = _parse(text, file, "document", comments)
    document = _Builder(file).transform(tree)
    return _with_comments(document, comments)


def parse_expression(text: str, file: str, line: int = 1, column: int = 1) -> ast.Expr:
    """Parse one expression; spans are shifted so (1, 1) of `text` lands on (line, column)."""
    tree = _parse(text, file, "expr", [], line, column)
    return _Builder(file, line, column).transform(tree)


def parse_action_call(text: str, file: str, line: int = 1, column: int = 1) -> ast.ActionCall:
    """Parse one action call `name(arg: expr, ...)`; spans shifted as in parse_expression."""
    tree = _parse(text, file, "action_call", [], line, column)
    return _Builder(file, line, column).transform(tree)


def parse_type(text: str, file: str) -> ast.TypeExpr:
    """Parse a type as written in a schema: `float in [0, 1]`, `list<string>`, `enum("a")`."""
    tree = _parse(text, file, "type_expr", [])
    return _Builder(file).transform(tree)


def _with_comments(document: ast.Document, comments: list[tuple[int, int, str]]) -> ast.Document:
    from dataclasses import replace

    return replace(document, comments=tuple(comments))


_TERMINAL_TEXT = {
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "DOT": "'.'",
    "NAME": "a name",
    "STRING": "a string",
    "INT_LIT": "a number",
    "FLOAT_LIT": "a number",
    "NUMBER": "a number",
    "DURATION": "a duration",
    "REL_OP": "a comparison",
    "MUL_OP": "an operator",
    "ADD_OP": "an operator",
    "QMARK": "'?'",
    "MORETHAN": "'>'",
    "LESSTHAN": "'<'",
    "MINUS": "'-'",
    "$END": "end of input",
    "SIGN": "'-'",
    "OR_SYM": "'||'",
    "OR_KW": "'or'",
    "AND_SYM": "'&&'",
    "AND_KW": "'and'",
    "NOT_SYM": "'!'",
    "NOT_KW": "'not'",
    "IN": "'in'",
    "OPTIONAL": "'?'",
}


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_TERMINAL_TEXT.get(e, _keyword(e)) for e in expected})
    if not names:  # lark reports no candidates after a complete expression: only the end may follow
        return "the end of the expression"
    if len(names) > 6:
        # A long list helps nobody; name the two kinds of thing that can come next.
        return "an operator, or the end of the expression or clause"
    return "one of " + ", ".join(names) if len(names) > 1 else names[0]


def _keyword(terminal: str) -> str:
    return f"'{terminal.lower()}'" if terminal.isupper() else terminal


def _parse(text: str, file: str, start: str, comments: list, line: int = 1, column: int = 1):
    def problem(message: str, at_line: int, at_col: int, width: int, hint: str) -> SyntaxProblem:
        span = Span(file, at_line, at_col, at_line, at_col + max(width, 1))
        if line != 1 or column != 1:
            span = span.shifted(line, column)
        return SyntaxProblem(Diagnostic("error", "syntax", message, span, hint))

    parser = _parser()
    try:
        tree = parser.parse(text, start=start, on_error=_keyword_as_name)
    except UnexpectedCharacters as exc:
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        hint = "strings are written in double quotes" if char in "`" else ""
        if char == "&" or char == "|":
            hint = "write '&&' or '||' (or 'and' / 'or')"
        raise problem(f"unexpected character {char!r}", exc.line, exc.column, 1, hint) from None
    except UnexpectedEOF:
        end_line, end_col = _end_of_text(text)
        raise problem("unexpected end of input", end_line, end_col, 1, _EOF_HINT) from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            end_line, end_col = _end_of_text(text)
            hint = _EOF_HINT if len(exc.expected) > 6 else f"expected {_describe_expected(set(exc.expected))}"
            raise problem("unexpected end of input", end_line, end_col, 1, hint) from None
        hint = f"expected {_describe_expected(set(exc.expected))}"
        if tok.value == "=":
            hint = "to compare, write '=='"
        if tok.type in ("REL_OP", "IN") and "REL_OP" not in exc.expected:
            hint = "comparisons do not chain: write 'a < b && b < c'"
        raise problem(f"unexpected {tok.value!r}", tok.line, tok.column, len(tok.value), hint) from None
    except UnexpectedInput as exc:  # any other lark input error
        raise problem("cannot parse this", exc.line, exc.column, 1, "") from None
    _check_limits(tree, problem)
    _collect_comments(text, comments)
    return tree


# Every later stage (the AST builder, the passes, the formatter, codegen, the interpreter) walks an
# expression recursively, spending several Python frames per level; this keeps the deepest tree
# well inside Python's recursion limit of 1000 frames.
MAX_NESTING = 100
MAX_INT_DIGITS = 4300  # Python's own limit for int(str): integers are unbounded, their literals are not


def _check_limits(tree: Tree, problem: Callable[..., SyntaxProblem]) -> None:
    """Refuse a tree nested deeper than MAX_NESTING or an integer literal of more than
    MAX_INT_DIGITS digits (int() would refuse it), before anything walks it recursively."""
    stack: list[tuple[Tree, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            meta = node.meta
            raise problem(
                f"expression too deep (limit {MAX_NESTING} levels of nesting)",
                getattr(meta, "line", 1),
                getattr(meta, "column", 1),
                1,
                "split it: name parts with `let`, or write a long chain of && or || as a few named conditions",
            )
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, depth + 1))
            elif isinstance(child, Token) and child.type == "INT_LIT" and _too_big(child.value):
                raise problem(
                    f"integer literal too large (limit {MAX_INT_DIGITS} digits)",
                    child.line,
                    child.column,
                    len(child.value),
                    "write a float (1e30) for a larger magnitude",
                )


def _too_big(digits: str) -> bool:
    return len(digits.lstrip("0")) > MAX_INT_DIGITS


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _keyword_as_name(error: UnexpectedInput) -> bool:
    """Keywords are contextual: where a keyword cannot stand but a name can, read it as a name.

    LALR merges parser states, so after a type the lexer may take `owner` or `rule` for the
    keyword even inside an input block, where only a field name makes sense.
    """
    if not isinstance(error, UnexpectedToken) or "NAME" not in error.accepts:
        return False
    token = error.token
    if token.type == "NAME" or not _WORD.fullmatch(str(token.value)):
        return False
    error.interactive_parser.feed_token(Token.new_borrow_pos("NAME", token.value, token))
    return True


_EOF_HINT = "the text ends inside a block or expression: is a closing '}' or ')' missing?"


def _end_of_text(text: str) -> tuple[int, int]:
    """Line and column just after the last character that is not white space."""
    lines = text.rstrip().split("\n")
    return len(lines), len(lines[-1]) + 1


def _collect_comments(text: str, comments: list[tuple[int, int, str]]) -> None:
    """Comments with their line and column, for the formatter (lark drops them)."""
    in_string = None
    for number, line_text in enumerate(text.split("\n"), start=1):
        i = 0
        in_string = None
        while i < len(line_text):
            ch = line_text[i]
            if in_string:
                if ch == "\\":
                    i += 2
                    continue
                if ch == in_string:
                    in_string = None
            elif ch in "\"'":
                in_string = ch
            elif ch == "#":
                comments.append((number, i + 1, line_text[i:].rstrip()))
                break
            i += 1


def unquote(token: str) -> str:
    """The value of a string literal token, escapes applied (Python's rules, a subset of CEL's)."""
    try:
        value = pyast.literal_eval(token)
    except (ValueError, SyntaxError):
        value = token[1:-1]
    return value if isinstance(value, str) else token[1:-1]


@v_args(meta=True)
class _Builder(Transformer):
    """Lark tree → AST. Spans use the rule's meta, shifted for embedded expressions."""

    def __init__(self, file: str, line: int = 1, column: int = 1) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.column = column

    # ---- positions ----
    def _span(self, meta) -> Span:
        span = Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)
        return self._shift(span)

    def _keyword(self, meta, word: str) -> Span:
        """The keyword `word` that starts the clause at `meta`."""
        return self._shift(Span(self.file, meta.line, meta.column, meta.line, meta.column + len(word)))

    def _tok_span(self, tok: Token) -> Span:
        span = Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)
        return self._shift(span)

    def _shift(self, span: Span) -> Span:
        if self.line == 1 and self.column == 1:
            return span
        return span.shifted(self.line, self.column)

    def _string(self, tok: Token) -> ast.StringValue:
        span = self._tok_span(tok)
        inner = Span(span.file, span.line, span.column + 1, span.end_line, span.end_column - 1)
        return ast.StringValue(unquote(tok.value), inner)

    # ---- documents ----
    def document(self, meta, children):
        return children[0]

    def policy(self, meta, children):
        name, version, *items = children
        return self._document("policy", name, self._string(version), items, meta)

    def threat(self, meta, children):
        name, version, *items = children
        return self._document("threat", name, self._string(version), items, meta)

    def safety(self, meta, children):
        name, version, *items = children
        return self._document("safety", name, self._string(version), items, meta)

    def fleet(self, meta, children):
        name, version, *items = children
        return self._document("fleet", name, self._string(version), items, meta)

    def governance(self, meta, children):
        name, version, *items = children
        return self._document("governance", name, self._string(version), items, meta)

    def scoring(self, meta, children):
        name, version, *items = children
        return self._document("scoring", name, self._string(version), items, meta)

    def profile(self, meta, children):
        name, version, *items = children
        return self._document("profile", name, self._string(version), items, meta)

    def supervisor(self, meta, children):
        name, version, *items = children
        return self._document("supervisor", name, self._string(version), items, meta)

    def rollout(self, meta, children):
        name, version, *items = children
        items = [
            ast.Justification(item[1], item[2]) if isinstance(item, tuple) and item[0] == "justification" else item
            for item in items
        ]
        return self._document("rollout", name, self._string(version), items, meta)

    def module(self, meta, children):
        name, *items = children
        return self._document("module", name, None, items, meta)

    def _document(self, kind, name, version, items, meta):
        owner = description = ""
        labels: tuple = ()
        body = []
        for item in items:
            if isinstance(item, tuple) and item[0] == "owner":
                owner = item[1]
            elif isinstance(item, tuple) and item[0] == "description":
                description = item[1]
            elif isinstance(item, tuple) and item[0] == "labels":
                labels = item[1]
            else:
                body.append(item)
        return ast.Document(
            kind=kind,
            name=name,
            span=self._span(meta),
            file=self.file,
            version=version,
            owner=owner,
            description=description,
            labels=labels,
            items=tuple(body),
        )

    def dotted_name(self, meta, children):
        return ".".join(str(c) for c in children)

    def import_decl(self, meta, children):
        return ast.Import(self._string(children[0]), self._span(meta))

    def owner_decl(self, meta, children):
        return ("owner", unquote(children[0]), self._span(meta))

    def description_decl(self, meta, children):
        return ("description", unquote(children[0]), self._span(meta))

    def labels_decl(self, meta, children):
        return ("labels", tuple(c for c in children if c is not None), self._span(meta))

    def label(self, meta, children):
        return ast.Label(str(children[0]), unquote(children[1]), self._span(meta))

    def input_decl(self, meta, children):
        name, *fields = children
        return ast.Input(str(name), tuple(fields), self._span(meta))

    def field_decl(self, meta, children):
        name, optional, type_ = children
        return ast.Field(str(name), type_, optional is not None, self._span(meta))

    def type_decl(self, meta, children):
        return ast.TypeAlias(str(children[0]), children[1], self._span(meta))

    # ---- types ----
    def named_type(self, meta, children):
        return ast.NamedType(str(children[0]), self._span(meta))

    def enum_type(self, meta, children):
        return ast.EnumType(tuple(unquote(c) for c in children), self._span(meta))

    def list_type(self, meta, children):
        return ast.ListType(children[0], self._span(meta))

    def map_type(self, meta, children):
        return ast.MapType(children[0], children[1], self._span(meta))

    def record_type(self, meta, children):
        return ast.RecordType(tuple(children), self._span(meta))

    def range_type(self, meta, children):
        base, _in, (low, low_text, _), (high, high_text, _) = children
        return ast.RangeType(base, low, high, self._span(meta), low_text, high_text)

    def signed_number(self, meta, children):
        sign, number = children
        text = ("-" if sign else "") + str(number)
        return float(text), text, self._span(meta)

    # ---- declarations ----
    def const_decl(self, meta, children):
        name, type_, value = children
        return ast.Const(str(name), type_, value, self._span(meta))

    def let_decl(self, meta, children):
        return ast.Let(str(children[0]), children[1], self._span(meta))

    def action_decl(self, meta, children):
        name, *params = children
        return ast.ActionDecl(str(name), tuple(p for p in params if p is not None), self._span(meta))

    def param_decl(self, meta, children):
        name, optional, type_, default = children
        return ast.Param(str(name), type_, optional is not None, default, self._span(meta))

    def rule_decl(self, meta, children):
        name, *clauses = children
        fields: dict[str, object] = {}
        repeated = []
        clause_lines = []
        for clause in clauses:
            key, value, span = clause
            clause_lines.append((key, span.line, span.end_line))
            if key in fields:
                repeated.append((key, span))
                continue
            fields[key] = value
            if key in ("impact", "priority", "group", "limit", "enforce", "mode"):
                fields[key + "_span"] = span
        justification = fields.get("justification")  # an ast.StringValue: the text and where it is
        return ast.Rule(
            name=str(name),
            span=self._span(meta),
            when=fields.get("when"),
            then=fields.get("then", ()),
            priority=fields.get("priority"),
            priority_span=fields.get("priority_span"),
            impact=fields.get("impact"),
            impact_span=fields.get("impact_span"),
            reason=fields.get("reason"),
            labels=fields.get("labels", ()),
            description=fields.get("description", ""),
            justification=justification.value if justification else "",
            justification_span=justification.span if justification else None,
            group_by=fields.get("group", ()),
            group_span=fields.get("group_span"),
            enter=fields.get("enter"),
            exit=fields.get("exit"),
            hold=fields.get("for"),
            keep=fields.get("keep"),
            cooldown=fields.get("cooldown"),
            repeat=fields.get("repeat"),
            limit=fields.get("limit"),
            limit_span=fields.get("limit_span"),
            enforce=fields.get("enforce", ""),
            enforce_span=fields.get("enforce_span"),
            mode=fields.get("mode", ""),
            mode_span=fields.get("mode_span"),
            repeated=tuple(repeated),
            clause_lines=tuple(clause_lines),
        )

    def _duration(self, tok: Token) -> ast.Duration:
        return ast.Duration(parse_duration(str(tok)) or 0.0, str(tok), self._tok_span(tok))

    def group_clause(self, meta, children):
        return ("group", tuple(str(c) for c in children), self._span(meta))

    def enter_clause(self, meta, children):
        return ("enter", children[0], self._span(meta))

    def exit_clause(self, meta, children):
        return ("exit", children[0], self._span(meta))

    def for_clause(self, meta, children):
        return ("for", self._duration(children[0]), self._span(meta))

    def keep_clause(self, meta, children):
        return ("keep", self._duration(children[0]), self._span(meta))

    def cooldown_clause(self, meta, children):
        return ("cooldown", self._duration(children[0]), self._span(meta))

    def repeat_clause(self, meta, children):
        return ("repeat", self._duration(children[0]), self._span(meta))

    def limit_clause(self, meta, children):
        return ("limit", (int(children[0]), self._duration(children[1])), self._span(meta))

    # ---- stream ----
    def stream_decl(self, meta, children):
        fields: dict[str, object] = {}
        for key, value, span, _keyword in children:
            fields[key] = value
            fields[key + "_span"] = span
        return ast.Stream(
            span=self._span(meta),
            time=fields.get("time", ""),
            time_span=fields.get("time_span"),
            id=fields.get("id", ""),
            id_span=fields.get("id_span"),
            lateness=fields.get("lateness"),
            sequence=fields.get("sequence", ("", ""))[0],
            sequence_by=fields.get("sequence", ("", ""))[1],
            sequence_span=fields.get("sequence_span"),
            idle=fields.get("idle"),
            stale=fields.get("stale"),
            keywords=tuple((key, keyword) for key, _value, _span, keyword in children),
        )

    def stream_time(self, meta, children):
        return ("time", str(children[0]), self._tok_span(children[0]), self._keyword(meta, "time"))

    def stream_id(self, meta, children):
        return ("id", str(children[0]), self._tok_span(children[0]), self._keyword(meta, "id"))

    def stream_lateness(self, meta, children):
        return ("lateness", self._duration(children[0]), self._span(meta), self._keyword(meta, "lateness"))

    def stream_sequence(self, meta, children):
        sequence = (str(children[0]), str(children[1]))
        return ("sequence", sequence, self._span(meta), self._keyword(meta, "sequence"))

    def stream_idle(self, meta, children):
        return ("idle", self._duration(children[0]), self._span(meta), self._keyword(meta, "idle"))

    def stream_stale(self, meta, children):
        return ("stale", self._duration(children[0]), self._span(meta), self._keyword(meta, "stale"))

    # ---- fleets and rollouts ----
    def cluster_decl(self, meta, children):
        id_, *items = children
        owner, owner_span, labels = "", None, ()
        settings = []
        for item in items:
            if isinstance(item, tuple) and item[0] == "owner":
                owner, owner_span = item[1], item[2]
            elif isinstance(item, tuple) and item[0] == "labels":
                labels = item[1]
            else:
                settings.append(item)
        return ast.Cluster(
            unquote(id_), self._span(meta), self._string(id_).span, tuple(settings), owner, owner_span, labels
        )

    # ---- governance ----
    def tier_decl(self, meta, children):
        number, *settings = children
        return ast.GovernanceBlock("tier", str(number), self._span(meta), self._tok_span(number), tuple(settings))

    def priority_decl(self, meta, children):
        name, *settings = children
        return ast.GovernanceBlock("priority", str(name), self._span(meta), self._tok_span(name), tuple(settings))

    def vote_decl(self, meta, children):
        span = self._span(meta)
        return ast.GovernanceBlock("vote", "", span, self._keyword(meta, "vote"), tuple(children))

    # ---- scoring ----
    def signal_decl(self, meta, children):
        name, *settings = children
        return ast.ScoringBlock("signal", str(name), self._span(meta), self._tok_span(name), tuple(settings))

    def badge_decl(self, meta, children):
        name, *settings = children
        return ast.ScoringBlock("badge", str(name), self._span(meta), self._tok_span(name), tuple(settings))

    def score_profile_decl(self, meta, children):
        name, *items = children
        settings = tuple(i for i in items if isinstance(i, ast.Setting))
        badges = tuple(i for i in items if isinstance(i, ast.ScoringBlock))
        reasons = [ast.Justification(i[1], i[2]) for i in items if isinstance(i, tuple) and i[0] == "justification"]
        return ast.ScoringBlock(
            "profile", str(name), self._span(meta), self._tok_span(name), settings, badges, tuple(reasons)
        )

    # ---- profiles ----
    def extends_decl(self, meta, children):
        span = self._span(meta)
        name_span = Span(span.file, span.end_line, span.end_column - len(children[0]), span.end_line, span.end_column)
        return ast.Extends(children[0], span, name_span)

    def profile_setting(self, meta, children):
        name, type_, unit, *items = children
        orders, values, after = [], [], []
        remediation = description = ""
        for item in items:
            match item:
                case ast.SafetyOrder():
                    orders.append(item)
                case ast.ProfileValue():
                    values.append(item)
                case ("after", names):
                    after.extend(names)
                case ("remediation", text):
                    remediation = text
                case ("description", text, _):
                    description = text
        return ast.ProfileSetting(
            str(name),
            str(type_),
            str(unit) if unit is not None else "",
            self._span(meta),
            self._tok_span(name),
            self._tok_span(type_),
            tuple(orders),
            tuple(values),
            tuple(after),
            remediation,
            description,
        )

    def order_higher(self, meta, children):
        return ast.SafetyOrder("higher", self._span(meta))

    def order_lower(self, meta, children):
        return ast.SafetyOrder("lower", self._span(meta))

    def order_true(self, meta, children):
        return ast.SafetyOrder("true", self._span(meta))

    def order_false(self, meta, children):
        return ast.SafetyOrder("false", self._span(meta))

    def order_exact(self, meta, children):
        return ast.SafetyOrder("exact", self._span(meta))

    def order_chain(self, meta, children):
        names = [str(c) for c in children]
        return ast.SafetyOrder("chain", self._span(meta), tuple(itertools.pairwise(names)))

    def order_partial(self, meta, children):
        return ast.SafetyOrder("partial", self._span(meta), tuple(c for c in children if c is not None))

    def order_pair(self, meta, children):
        return (str(children[0]), str(children[1]))

    def value_decl(self, meta, children):
        return children[0]

    def value_string(self, meta, children):
        text = self._string(children[0])
        return ast.ProfileValue("string", text.value, str(children[0]), text.span)

    def value_number(self, meta, children):
        sign, number = children
        text = ("-" if sign else "") + str(number)
        return ast.ProfileValue("number", float(text), text, self._span(meta))

    def value_duration(self, meta, children):
        duration = self._duration(children[0])
        return ast.ProfileValue("duration", duration, duration.text, duration.span)

    def value_name(self, meta, children):
        return ast.ProfileValue("name", str(children[0]), str(children[0]), self._tok_span(children[0]))

    def after_decl(self, meta, children):
        return ("after", tuple((str(c), self._tok_span(c)) for c in children))

    def remediation_decl(self, meta, children):
        return ("remediation", unquote(children[0]))

    def change_decl(self, meta, children):
        version, date, text, justification = children
        why = justification[1].value if justification is not None else ""
        return ast.ChangeEntry(self._string(version), self._string(date), unquote(text), self._span(meta), why)

    def window_decl(self, meta, children):
        name, *settings = children
        return ast.GovernanceBlock("window", str(name), self._span(meta), self._tok_span(name), tuple(settings))

    # ---- supervisor ----
    def goal_decl(self, meta, children):
        name, *settings = children
        return ast.SupervisorBlock("goal", str(name), self._span(meta), self._tok_span(name), tuple(settings))

    def approval_decl(self, meta, children):
        name, *settings = children
        return ast.SupervisorBlock("approval", str(name), self._span(meta), self._tok_span(name), tuple(settings))

    def verify_decl(self, meta, children):
        span = self._span(meta)
        return ast.SupervisorBlock("verify", "", span, self._keyword(meta, "verify"), tuple(children))

    def directive_decl(self, meta, children):
        kind, *settings = children
        return ast.DirectiveTemplate(str(kind), self._span(meta), self._tok_span(kind), tuple(settings))

    def meta_policy_decl(self, meta, children):
        name, *items = children
        first: dict[str, tuple] = {}
        repeated = []
        settings = []
        for item in items:
            if isinstance(item, ast.Setting):
                settings.append(item)
                continue
            word, span = ("directive", item.span) if isinstance(item, ast.DirectiveTemplate) else (item[0], item[2])
            if word in first:
                repeated.append((word, span))
            else:
                first[word] = item
        when = first.get("when")
        impact = first.get("impact")
        return ast.SupervisorBlock(
            "meta_policy",
            str(name),
            self._span(meta),
            self._tok_span(name),
            tuple(settings),
            when[1] if when else None,
            first.get("directive"),  # type: ignore[arg-type]
            impact[1] if impact else "",
            impact[2] if impact else None,
            tuple(repeated),
        )

    def select_clause(self, meta, children):
        return ast.Select(children[0], self._span(meta))

    def gate_decl(self, meta, children):
        name, *items = children
        clauses: dict[str, ast.Expr] = {}
        repeated = []
        settings = []
        for item in items:
            if isinstance(item, tuple):
                word, expr, span = item
                if word in clauses:
                    repeated.append((word, span))
                clauses.setdefault(word, expr)
            else:
                settings.append(item)
        return ast.Gate(
            str(name),
            self._span(meta),
            self._tok_span(name),
            clauses.get("pass"),
            clauses.get("fail"),
            tuple(settings),
            tuple(repeated),
        )

    def gate_pass(self, meta, children):
        return ("pass", children[0], self._span(meta))

    def gate_fail(self, meta, children):
        return ("fail", children[0], self._span(meta))

    def wave_decl(self, meta, children):
        name, *items = children
        selects = [item for item in items if isinstance(item, ast.Select)]
        return ast.Wave(
            str(name),
            self._span(meta),
            self._tok_span(name),
            selects[0] if selects else None,
            tuple(item for item in items if isinstance(item, ast.Setting)),
            tuple(("select", s.span) for s in selects[1:]),
        )

    def setting(self, meta, children):
        name, (kind, value, value_span) = children
        return ast.Setting(str(name), kind, value, self._span(meta), self._tok_span(name), value_span)

    def setting_string(self, meta, children):
        text = self._string(children[0])
        return ("string", text.value, text.span)

    def setting_number(self, meta, children):
        sign, number = children
        return ("number", float(("-" if sign else "") + str(number)), self._span(meta))

    def setting_duration(self, meta, children):
        duration = self._duration(children[0])
        return ("duration", duration, duration.span)

    def setting_percent(self, meta, children):
        text = str(children[0])
        return ("percent", ast.Percent(float(text[:-1]), text), self._tok_span(children[0]))

    def setting_list(self, meta, children):
        return ("list", tuple(c for c in children if c is not None), self._span(meta))

    def word_string(self, meta, children):
        return unquote(children[0])

    def word_name(self, meta, children):
        return str(children[0])

    def setting_map(self, meta, children):
        return ("map", tuple(c for c in children if c is not None), self._span(meta))

    def setting_pair(self, meta, children):
        key, *value = children  # a STRING, or [SIGN] NUMBER
        text = unquote(value[0]) if len(value) == 1 else ("-" if value[0] else "") + str(value[1])
        return ast.Label(str(key), text, self._span(meta))

    # ---- threat ----
    def source_decl(self, meta, children):
        name, (weight, _, weight_span), value, scale = children
        low, high, scale_span = scale if scale is not None else (None, None, None)
        return ast.Source(
            str(name), weight, value, self._span(meta), low, high, self._tok_span(name), weight_span, scale_span
        )

    def source_scale(self, meta, children):
        return children[0][0], children[1][0], self._span(meta)

    def smooth_decl(self, meta, children):
        alpha, _, alpha_span = children[0]
        return ast.Smooth(alpha, self._span(meta), alpha_span)

    def mode_decl(self, meta, children):
        name, op, (enter, _, enter_span), (exit_, _, exit_span), dwell = children
        return ast.Mode(
            str(name),
            str(op),
            enter,
            exit_,
            self._span(meta),
            self._duration(dwell) if dwell is not None else None,
            self._tok_span(name),
            self._tok_span(op),
            enter_span,
            exit_span,
        )

    def governor_decl(self, meta, children):
        fields: dict[str, object] = {}
        for key, value, _span, _at in children:
            fields[key] = value
        flips = fields.get("flips")
        return ast.Governor(
            span=self._span(meta),
            floor=fields.get("floor"),
            max_flips=flips[0] if flips else None,
            flips_per=flips[1] if flips else None,
            spare=fields.get("spare", ()),
            dwell=fields.get("dwell"),
            items=tuple((key, span) for key, _value, span, _at in children),
            values=tuple((key, at) for key, _value, _span, at in children),
        )

    def governor_floor(self, meta, children):
        floor, _, at = children[0]
        return ("floor", floor, self._span(meta), at)

    def governor_flips(self, meta, children):
        flips = (int(children[0]), self._duration(children[1]))
        return ("flips", flips, self._span(meta), self._tok_span(children[0]))

    def governor_spare(self, meta, children):
        first, last = self._tok_span(children[0]), self._tok_span(children[-1])
        names = Span(first.file, first.line, first.column, last.end_line, last.end_column)
        return ("spare", tuple(str(c) for c in children), self._span(meta), names)

    def governor_dwell(self, meta, children):
        dwell = self._duration(children[0])
        return ("dwell", dwell, self._span(meta), dwell.span)

    # ---- safety ----
    def safety_class(self, meta, children):
        name, *clauses = children
        fields: dict[str, object] = {}
        controls: list[ast.Control] = []
        repeated = []
        for key, value, span in clauses:
            if key == "require":  # several `require` clauses add up
                controls.extend(value)
                continue
            if key in fields:
                repeated.append((key, span))
                continue
            fields[key] = value
            fields[key + "_span"] = span
        reason = fields.get("reason")
        justification = fields.get("justification")
        return ast.SafetyClass(
            name=str(name),
            span=self._span(meta),
            name_span=self._tok_span(name),
            when=fields.get("when"),
            risk=fields.get("risk", ""),
            risk_span=fields.get("risk_span"),
            controls=tuple(controls),
            enforce=fields.get("enforce", ""),
            enforce_span=fields.get("enforce_span"),
            mode=fields.get("mode", ""),
            mode_span=fields.get("mode_span"),
            reason=reason,
            description=fields.get("description", ""),
            justification=justification.value if justification else "",
            justification_span=justification.span if justification else None,
            repeated=tuple(repeated),
        )

    def risk_clause(self, meta, children):
        return ("risk", str(children[0]), self._tok_span(children[0]))

    def enforce_clause(self, meta, children):
        return ("enforce", str(children[0]), self._tok_span(children[0]))

    def enforcement_mode(self, meta, children):
        return ("mode", str(children[0]), self._tok_span(children[0]))

    def require_clause(self, meta, children):
        return ("require", tuple(children), self._span(meta))

    def control_dual(self, meta, children):
        return ast.Control("dual_control", self._span(meta))

    def control_justification(self, meta, children):
        return ast.Control("justification", self._span(meta))

    def control_hold(self, meta, children):
        return ast.Control("hold", self._span(meta), hold=self._duration(children[0]))

    def control_approvers(self, meta, children):
        role, count = children
        return ast.Control(
            "approvers", self._span(meta), role=self._string(role), count=int(count), count_span=self._tok_span(count)
        )

    def control_block(self, meta, children):
        return ast.Control("block", self._span(meta))

    def approvals_decl(self, meta, children):
        return ast.Approvals(self._duration(children[0]), self._span(meta))

    def when_clause(self, meta, children):
        return ("when", children[0], self._span(meta))

    def then_clause(self, meta, children):
        return ("then", tuple(children), self._span(meta))

    def priority_clause(self, meta, children):
        value, _text, _span = children[0]
        return ("priority", int(value) if float(value).is_integer() else value, self._span(meta))

    def impact_clause(self, meta, children):
        return ("impact", str(children[0]), self._tok_span(children[0]))

    def reason_clause(self, meta, children):
        return ("reason", self._string(children[0]), self._span(meta))

    def justification_clause(self, meta, children):
        return ("justification", self._string(children[0]), self._span(meta))

    def action_call(self, meta, children):
        name, *args = children
        return ast.ActionCall(str(name), tuple(a for a in args if a is not None), self._span(meta))

    def argument(self, meta, children):
        return ast.Argument(str(children[0]), children[1], self._span(meta))

    # ---- expressions ----
    def ternary(self, meta, children):
        return ast.Conditional(children[0], children[1], children[2], self._span(meta))

    def or_op(self, meta, children):
        left, op, right = children
        return ast.Logical("||", left, right, self._span(meta), keyword=op.type == "OR_KW")

    def and_op(self, meta, children):
        left, op, right = children
        return ast.Logical("&&", left, right, self._span(meta), keyword=op.type == "AND_KW")

    def compare(self, meta, children):
        operands = tuple(children[0::2])
        ops = tuple(str(op) for op in children[1::2])
        op_spans = tuple(self._tok_span(op) for op in children[1::2])
        return ast.Compare(ops, operands, self._span(meta), op_spans)

    def binary(self, meta, children):
        left, op, right = children
        return ast.Binary(str(op), left, right, self._span(meta), self._tok_span(op))

    def not_op(self, meta, children):
        op, operand = children
        return ast.Unary("!", operand, self._span(meta), keyword=op.type == "NOT_KW")

    def negate(self, meta, children):
        return ast.Unary("-", children[0], self._span(meta))

    def attribute(self, meta, children):
        obj, name = children
        return ast.Attribute(obj, str(name), self._span(meta), self._tok_span(name))

    def method_call(self, meta, children):
        obj, name, *args = children
        args = [a for a in args if a is not None]
        return ast.Call(str(name), (obj, *args), self._span(meta), self._tok_span(name), True)

    def index(self, meta, children):
        return ast.Index(children[0], children[1], self._span(meta))

    def name(self, meta, children):
        return ast.Name(str(children[0]), self._span(meta))

    def call(self, meta, children):
        name, *args = children
        args = tuple(a for a in args if a is not None)
        return ast.Call(str(name), args, self._span(meta), self._tok_span(name))

    def list_literal(self, meta, children):
        return ast.ListLiteral(tuple(c for c in children if c is not None), self._span(meta))

    def duration_lit(self, meta, children):
        text = str(children[0])
        return ast.Literal("duration", parse_duration(text), self._span(meta), text)

    def float_lit(self, meta, children):
        return ast.Literal("float", float(children[0]), self._span(meta), str(children[0]))

    def int_lit(self, meta, children):
        return ast.Literal("int", int(children[0]), self._span(meta), str(children[0]))

    def string_lit(self, meta, children):
        return ast.Literal("string", unquote(children[0]), self._span(meta), str(children[0]))

    def true_lit(self, meta, children):
        return ast.Literal("bool", True, self._span(meta), "true")

    def false_lit(self, meta, children):
        return ast.Literal("bool", False, self._span(meta), "false")

    def null_lit(self, meta, children):
        return ast.Literal("null", None, self._span(meta), "null")
