"""The documentation keeps up with the programs (no broker needed).

Each program's `--help` is the source of truth for its options, exit codes
and environment variables; this file fails, saying what is missing where,
when one of them is absent from the program's man page (man/*.1) or from
the contract (docs/spec.md), or when a man page or the spec lists an option
the program does not have. It also holds README's quick start to exactly
the two commands, checks that every relative link in README.md and
docs/*.md leads to a file (and heading) that exists, that every pitemp
command line shown in the docs uses only real options, and that the man
pages render without a groff warning.

Adding an option: give it a help text in lib/opts.c, a row in docs/spec.md
(under "Options of both programs" or "<program> only") and a .TP entry
under OPTIONS in man/<program>.1.
"""

import re
import shutil
import subprocess

import pytest

from conftest import REPO

PROGS = ("pitemp-sensor", "pitemp-sink")
SPEC = REPO / "docs" / "spec.md"
README = REPO / "README.md"
MAN_SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS",
                "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO")
# An option token: --long-name or -X, not part of a longer word or path.
OPT_RE = re.compile(r"(?<![\w/.:-])(--[a-z][a-z0-9-]*|-[A-Za-z])(?![\w-])")


HINT = ("(an option is documented by a row in docs/spec.md under \"### Options "
        "of both programs\" or \"### <program> only\", and a .TP entry under "
        ".SH OPTIONS in man/<program>.1, with the letters and argument of "
        "--help)")


def problems_message(problems):
    return "\n".join(["the docs disagree with the programs:"] +
                     [f"  - {p}" for p in problems] + [HINT])


# --------------------------------------------------------------------------
# --help

def run_help(bins, prog):
    exe = bins["sensor" if prog == "pitemp-sensor" else "sink"]
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, f"{prog} --help exited {r.returncode}: {r.stderr}"
    return r.stdout


def help_sections(text):
    """{heading: [lines]} for "options:", "exit status:", "environment:"."""
    out, cur = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            cur = out.setdefault(line[:-1], [])
        elif cur is not None and line.strip():
            cur.append(line)
    return out


def help_options(text):
    """{--long: -X or None} of the options section."""
    opts = {}
    for line in help_sections(text).get("options", []):
        m = re.match(r"\s+(?:(-[A-Za-z]), )?\s*(--[a-z][a-z0-9-]*)", line)
        assert m, f"--help: cannot read the option line {line!r}"
        opts[m.group(2)] = m.group(1)
    assert "--help" in opts, f"--help lists no options:\n{text}"
    return opts


def help_env(text):
    return {m.group(1) for line in help_sections(text).get("environment", [])
            if (m := re.match(r"\s+([A-Z][A-Z0-9_]+)\s", line))}


def help_exit_codes(text):
    return {m.group(1) for line in help_sections(text).get("exit status", [])
            if (m := re.match(r"\s+(\d)\s", line))}


@pytest.fixture(scope="module")
def helps(bins):
    return {p: run_help(bins, p) for p in PROGS}


# --------------------------------------------------------------------------
# man pages (read from the roff source; rendering is checked separately)

def roff_text(s):
    """A roff line as plain text: font escapes dropped, \\- as -."""
    s = re.sub(r"\\f[BIRP]|\\f\[[A-Z]*\]|\\&|\\%|\\~", "", s)
    s = s.replace("\\-", "-").replace("\\e", "\\")
    if s.startswith("."):
        s = re.sub(r'^\.[A-Z]{1,2}\s*', "", s).replace('"', "")
    return s


def man_sections(page):
    """{SECTION: [source lines]} of a man page."""
    out, cur = {}, None
    for line in page.read_text().splitlines():
        if line.startswith(".SH "):
            cur = out.setdefault(line[4:].strip().strip('"'), [])
        elif cur is not None:
            cur.append(line)
    return out


def man_tags(lines):
    """The tag lines of the .TP paragraphs, as plain text."""
    return [roff_text(lines[i + 1]) for i, l in enumerate(lines[:-1])
            if l.strip() == ".TP"]


def man_options(page):
    """{--long: -X or None} from the tags under OPTIONS."""
    opts = {}
    for tag in man_tags(man_sections(page).get("OPTIONS", [])):
        toks = OPT_RE.findall(tag)
        longs = [t for t in toks if t.startswith("--")]
        shorts = [t for t in toks if not t.startswith("--")]
        for lng in longs:
            opts[lng] = shorts[0] if shorts else None
    return opts


# --------------------------------------------------------------------------
# docs/spec.md

def md_sections(text, level):
    """{heading: body} for the headings of one level ("##" or "###")."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"(#+) (.*)", line)
        if m and len(m.group(1)) <= len(level):
            cur = m.group(2).strip() if m.group(1) == level else None
            if cur is not None:
                out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def spec_option_rows(body):
    """{--long: -X or None} from the first column of a table."""
    opts = {}
    for line in body.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        first = line.split("|")[1]
        toks = OPT_RE.findall(first.replace("\\|", " "))
        longs = [t for t in toks if t.startswith("--")]
        shorts = [t for t in toks if not t.startswith("--")]
        for lng in longs:
            opts[lng] = shorts[0] if shorts else None
    return opts


def spec_tables():
    subs = md_sections(SPEC.read_text(), "###")
    names = {"both": "Options of both programs",
             "pitemp-sensor": "pitemp-sensor only",
             "pitemp-sink": "pitemp-sink only"}
    missing = [h for h in names.values() if h not in subs]
    assert not missing, (f"docs/spec.md: no section(s) {missing}; the option "
                         "tables live under these ### headings")
    return {k: spec_option_rows(subs[h]) for k, h in names.items()}


def show(lng, short):
    return f"{short}, {lng}" if short else lng


def compare(where, documented, actual, prog):
    """Problems between a documented {long: short} and --help's."""
    out = []
    for lng, short in actual.items():
        if lng not in documented:
            out.append(f"{where}: {show(lng, short)} (in {prog} --help) is "
                       "not documented")
        elif documented[lng] != short:
            has = (f"with the short letter {documented[lng]}"
                   if documented[lng] else "without a short letter")
            out.append(f"{where}: {lng} is documented {has}; {prog} --help "
                       f"says {show(lng, short)}")
    for lng, short in documented.items():
        if lng not in actual:
            out.append(f"{where}: documents {show(lng, short)}, which "
                       f"{prog} --help does not have")
    return out


# --------------------------------------------------------------------------
# The tests

@pytest.mark.parametrize("prog", PROGS)
def test_man_page_lists_exactly_the_options_of_help(helps, prog):
    page = REPO / "man" / f"{prog}.1"
    assert page.is_file(), f"{page} is missing"
    problems = compare(f"man/{prog}.1 OPTIONS", man_options(page),
                       help_options(helps[prog]), prog)
    assert not problems, problems_message(problems)


@pytest.mark.parametrize("prog", PROGS)
def test_man_page_has_every_section_env_and_exit_code(helps, prog):
    page = REPO / "man" / f"{prog}.1"
    secs = man_sections(page)
    problems = [f"man/{prog}.1: no .SH {s}" for s in MAN_SECTIONS
                if s not in secs]
    env_text = "\n".join(roff_text(l) for l in secs.get("ENVIRONMENT", []))
    for var in sorted(help_env(helps[prog])):
        if var not in env_text:
            problems.append(f"man/{prog}.1 ENVIRONMENT: {var} (in {prog} "
                            "--help) is not described")
    codes = {t.strip() for t in man_tags(secs.get("EXIT STATUS", []))}
    for code in sorted(help_exit_codes(helps[prog])):
        if code not in codes:
            problems.append(f"man/{prog}.1 EXIT STATUS: no entry for {code} "
                            f"(in {prog} --help)")
    exit_text = "\n".join(roff_text(l) for l in secs.get("EXIT STATUS", []))
    for sig in ("SIGINT", "SIGTERM"):
        if sig not in exit_text:
            problems.append(f"man/{prog}.1 EXIT STATUS: does not say what "
                            f"{sig} does")
    assert not problems, problems_message(problems)


def test_spec_lists_exactly_the_options_of_each_program(helps):
    tables = spec_tables()
    sensor = help_options(helps["pitemp-sensor"])
    sink = help_options(helps["pitemp-sink"])
    both = {k: v for k, v in sensor.items() if k in sink}
    problems = []
    for prog, own in (("pitemp-sensor", sensor), ("pitemp-sink", sink)):
        only = {k: v for k, v in own.items() if k not in both}
        problems += compare(f'docs/spec.md "{prog} only"', tables[prog],
                            only, prog)
    for lng, short in both.items():
        if sensor[lng] != sink[lng]:
            problems.append(f"{lng}: short letter {sensor[lng]} in "
                            f"pitemp-sensor, {sink[lng]} in pitemp-sink")
    problems += compare('docs/spec.md "Options of both programs"',
                        tables["both"], both, "pitemp-sensor and pitemp-sink")
    assert not problems, problems_message(problems)


def test_spec_states_every_env_variable_and_exit_code(helps):
    secs = md_sections(SPEC.read_text(), "##")
    problems = [f"docs/spec.md: no ## {h} section" for h in
                ("Environment", "Exit status", "Signals") if h not in secs]
    for prog in PROGS:
        for var in sorted(help_env(helps[prog])):
            if f"`{var}`" not in secs.get("Environment", ""):
                problems.append(f"docs/spec.md Environment: `{var}` (in "
                                f"{prog} --help) is not in the table")
        for code in sorted(help_exit_codes(helps[prog])):
            if not re.search(rf"^\| {code} \|", secs.get("Exit status", ""),
                             re.M):
                problems.append(f"docs/spec.md Exit status: no row for "
                                f"{code} (in {prog} --help)")
    assert not problems, problems_message(problems)


def test_readme_quick_start_is_exactly_make_demo_and_make_check():
    secs = md_sections(README.read_text(), "##")
    assert "Quick start" in secs, "README.md: no \"## Quick start\" section"
    blocks = re.findall(r"```[a-z]*\n(.*?)```", secs["Quick start"], re.S)
    assert len(blocks) == 1, ("README.md Quick start: expected one code "
                              f"block, found {len(blocks)}")
    cmds = [l.strip() for l in blocks[0].splitlines()
            if l.strip() and not l.strip().startswith("#")]
    assert cmds == ["make demo", "make check"], (
        f"README.md Quick start: the commands are {cmds}, expected exactly "
        "['make demo', 'make check']")


def doc_files():
    return [README] + sorted((REPO / "docs").glob("*.md"))


def slug(heading):
    """GitHub's anchor for a heading."""
    s = re.sub(r"[`*_]", "", heading.strip().lower())
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def test_relative_links_in_readme_and_docs_lead_somewhere():
    problems = []
    for doc in doc_files():
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue            # http:, https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            name = doc.relative_to(REPO)
            if not dest.exists():
                problems.append(f"{name}: link ({target}) leads to a "
                                "missing file")
            elif anchor and dest.suffix == ".md":
                heads = {slug(m) for m in re.findall(
                    r"^#+ (.*)$", dest.read_text(), re.M)}
                if anchor not in heads:
                    problems.append(f"{name}: link ({target}): "
                                    f"{dest.relative_to(REPO)} has no "
                                    f"heading #{anchor}")
    assert not problems, problems_message(problems)


def command_lines(text):
    """(program, line) for each pitemp command line in the code blocks
    of a markdown text or the examples of a man page (joined at \\)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    for line in joined.splitlines():
        m = re.match(r"\s*(?:sudo\s+)?(?:\S*/)?(pitemp-sensor|pitemp-sink)"
                     r"(\s.*)?$", line)
        if m:
            yield m.group(1), m.group(2) or ""


def test_command_lines_in_the_docs_use_real_options(helps):
    opts = {p: help_options(helps[p]) for p in PROGS}
    shorts = {p: {s for s in opts[p].values() if s} for p in PROGS}
    sources = []
    for doc in doc_files():
        blocks = re.findall(r"```(?:sh)?\n(.*?)```", doc.read_text(), re.S)
        sources.append((doc.relative_to(REPO), "\n".join(blocks)))
    for prog in PROGS:
        ex = man_sections(REPO / "man" / f"{prog}.1").get("EXAMPLES", [])
        sources.append((f"man/{prog}.1 EXAMPLES",
                        "\n".join(roff_text(l) for l in ex)))
    problems = []
    for where, text in sources:
        for prog, args in command_lines(text):
            args = args.split("#")[0]
            for tok in OPT_RE.findall(args):
                if tok not in opts[prog] and tok not in shorts[prog]:
                    problems.append(f"{where}: `{prog} ...{tok}` uses an "
                                    f"option {prog} --help does not have")
    assert not problems, problems_message(problems)


@pytest.mark.parametrize("prog", PROGS)
def test_man_page_renders_without_warnings(prog):
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff not installed (Debian package groff-base; "
                    "`make deps` installs it)")
    page = REPO / "man" / f"{prog}.1"
    r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", str(page)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and not r.stderr, (
        f"man/{prog}.1: groff -man -ww warns:\n{r.stderr}")
    r = subprocess.run([groff, "-man", "-Tutf8", "-P-cbou", str(page)],
                       capture_output=True, text=True, timeout=30)
    text = r.stdout
    for sec in MAN_SECTIONS:
        assert re.search(rf"^{sec}$", text, re.M), (
            f"man/{prog}.1: the rendered page has no {sec} heading")
    assert f"{prog.upper()}(1)" in text.splitlines()[0], (
        f"man/{prog}.1: the rendered header does not name {prog.upper()}(1)")
