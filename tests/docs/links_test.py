#!/usr/bin/env python3
"""links_test: every Markdown link in README.md and docs/ resolves inside
the repository.

For each link [text](target), image ![alt](target) and reference
definition [id]: target outside code blocks and code spans, whose target
is not http:, https: or mailto:, the path (relative to the file's
directory; "/x" is relative to the repository's root, as on GitHub) must
name a file or directory inside the repository, and a "#anchor" on a
Markdown file must name one of its headings, slugged as GitHub does.

Usage: links_test.py [--root DIR] [--rev REV] [FILE...]
  FILE   repository-relative Markdown files (default: README.md and
         docs/**/*.md)
  --root the repository (default: $MSOCK_SOURCE_DIR, else two directories
         above this script)
  --rev  read the files as they are in git revision REV (targets are still
         checked against the working tree), e.g. --rev HEAD README.md
Exit status: 0 all links resolve, 1 some do not (each printed as
FILE:LINE: TARGET: why), 2 usage or I/O error.
"""
import glob
import os
import re
import subprocess
import sys
import unicodedata
import urllib.parse

EXTERNAL = ("http:", "https:", "mailto:")

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)
# An inline link or image: [text](target) or [text](target "title"). The
# text may hold one level of brackets; the target may be <...>.
INLINE = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
REFDEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>\n]*>|\S+)")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
HTML_ANCHOR = re.compile(r"<a\s[^>]*(?:name|id)=[\"']([^\"']+)[\"']", re.I)


def blank_code_spans(line):
    """Replaces code spans with x's of the same length, so that links
    inside them are not links and columns stay put."""
    return CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), line)


def prose_lines(text):
    """Yields (line number, line) for lines outside fenced code blocks."""
    fence = None
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        yield n, line


def heading_text(raw):
    """The text GitHub renders for a heading's source: links become their
    text, code spans their content, emphasis markers go."""
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"<[^>]+>", "", s)
    out = []
    pos = 0
    for m in CODE_SPAN.finditer(s):
        out.append(strip_emphasis(s[pos : m.start()]))
        out.append(m.group(2).strip())
        pos = m.end()
    out.append(strip_emphasis(s[pos:]))
    return "".join(out)


def strip_emphasis(s):
    s = s.replace("*", "")
    # _emphasis_ markers sit at word edges; snake_case underscores stay.
    return re.sub(r"(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])", "", s)


def slug(text):
    """GitHub's heading anchor: lower case; letters, digits, spaces,
    hyphens and underscores kept, everything else dropped; spaces become
    hyphens."""
    out = []
    for ch in text.strip().lower():
        cat = unicodedata.category(ch)
        if ch in "-_" or cat[0] in "LN" or cat == "Mn":
            out.append(ch)
        elif ch == " ":
            out.append("-")
    return "".join(out)


def anchors(text):
    """Every anchor a Markdown file defines: its headings' slugs (repeats
    get -1, -2, ... as on GitHub) and <a name|id="...">."""
    seen = {}
    found = set()

    def add(title):
        base = slug(heading_text(title))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else "%s-%d" % (base, n))

    prev = None
    for _, line in prose_lines(text):
        m = ATX.match(line)
        if m:
            add(m.group(2) or "")
            prev = None
            continue
        if prev and prev.strip() and SETEXT.match(line) and not prev.startswith(("    ", "\t")):
            add(prev.strip())
            prev = None
            continue
        for a in HTML_ANCHOR.findall(line):
            found.add(a)
        prev = line
    return found


def links(text):
    """Yields (line number, target) for every link in prose. A reference
    definition cannot interrupt a paragraph: it follows a blank line, a
    heading or another definition."""
    prev_ok = True
    last = 0
    for n, line in prose_lines(text):
        if n != last + 1:
            prev_ok = True  # a code block ended just before
        last = n
        plain = blank_code_spans(line)
        m = REFDEF.match(plain)
        if m and prev_ok:
            yield n, m.group(1)
            continue
        prev_ok = not line.strip() or bool(ATX.match(line))
        for m in INLINE.finditer(plain):
            yield n, m.group(1)


class Checker:
    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.anchor_cache = {}

    def rel(self, path):
        return os.path.relpath(path, self.root)

    def inside(self, path):
        return path == self.root or path.startswith(self.root + os.sep)

    def anchors_of(self, path):
        if path not in self.anchor_cache:
            with open(path, encoding="utf-8") as f:
                self.anchor_cache[path] = anchors(f.read())
        return self.anchor_cache[path]

    def check(self, name, text):
        """Returns the problems of one file, as printable lines."""
        problems = []
        here = os.path.dirname(os.path.join(self.root, name))
        for n, target in links(text):
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1]
            if target.lower().startswith(EXTERNAL):
                continue
            why = self.why_broken(name, text, here, target)
            if why:
                problems.append("%s:%d: %s: %s" % (name, n, target, why))
        return problems

    def why_broken(self, name, text, here, target):
        if not target:
            return "empty link"
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target):
            return "not a file in the repository (only http, https and mailto links may leave it)"
        path, _, frag = target.partition("#")
        path = urllib.parse.unquote(path.split("?", 1)[0])
        if not path:
            # #anchor in this file
            if frag and frag not in anchors(text):
                return "no heading or anchor #%s in %s" % (frag, name)
            return None
        if path.startswith("/"):
            full = os.path.normpath(os.path.join(self.root, path.lstrip("/")))
        else:
            full = os.path.normpath(os.path.join(here, path))
        if not self.inside(full) or not self.inside(os.path.realpath(full)):
            return "outside the repository"
        if not os.path.exists(full):
            return "no such file %s" % self.rel(full)
        if frag and os.path.isfile(full) and full.endswith(".md"):
            if frag not in self.anchors_of(full):
                return "no heading or anchor #%s in %s" % (frag, self.rel(full))
        return None


def default_files(root):
    files = ["README.md"] if os.path.exists(os.path.join(root, "README.md")) else []
    for f in sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True)):
        files.append(os.path.relpath(f, root))
    return files


def main(argv):
    root = os.environ.get("MSOCK_SOURCE_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", ".."
    )
    rev = None
    files = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--root", "--rev") and i + 1 < len(argv):
            if a == "--root":
                root = argv[i + 1]
            else:
                rev = argv[i + 1]
            i += 2
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("-"):
            print("links_test: unknown option %s (--help)" % a, file=sys.stderr)
            return 2
        else:
            files.append(a)
            i += 1
    checker = Checker(root)
    if not files:
        files = default_files(checker.root)
    problems = []
    n_links = 0
    for name in files:
        try:
            if rev:
                text = subprocess.run(
                    ["git", "-C", checker.root, "show", "%s:%s" % (rev, name)],
                    check=True, capture_output=True, text=True,
                ).stdout
            else:
                with open(os.path.join(checker.root, name), encoding="utf-8") as f:
                    text = f.read()
        except (OSError, subprocess.CalledProcessError) as e:
            print("links_test: %s: %s" % (name, getattr(e, "stderr", "") or e), file=sys.stderr)
            return 2
        n_links += sum(1 for _ in links(text))
        problems += checker.check(name, text)
    for p in problems:
        print(p)
    where = "%d file%s%s" % (len(files), "" if len(files) == 1 else "s",
                             " at " + rev if rev else "")
    if problems:
        print("links_test: %d of %d links in %s do not resolve inside the repository"
              % (len(problems), n_links, where))
        return 1
    print("links_test: all %d links in %s resolve inside the repository" % (n_links, where))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
