#!/bin/sh
# Tests of filters/kvmlabs.lua: every case must succeed or fail as stated.
# Usage: run.sh OUTDIR   (run from book/tests)
set -u
O=${1:?usage: run.sh OUTDIR}
mkdir -p "$O"
FILTER=../filters/kvmlabs.lua
export KVMLABS_SOLUTION="$(pwd)/solution" KVMLABS_FIGDIR="$O"
fails=0
n=0

book() { # book NAME FORMAT MARKDOWN -> $O/NAME.out, $O/NAME.err, status
	printf '%s\n' "$3" > "$O/$1.md"
	pandoc --from=markdown --lua-filter=$FILTER --to="$2" -o "$O/$1.out" "$O/$1.md" 2> "$O/$1.err"
}
ok()   { n=$((n+1)); echo "ok   $n $1"; }
bad()  { n=$((n+1)); fails=$((fails+1)); echo "FAIL $n $1"; sed 's/^/     /' "$O/$2.err" 2>/dev/null | head -5; }

expect_ok() { # NAME FORMAT MD GREP [NOTGREP]
	if book "$1" "$2" "$3" && grep -q -- "$4" "$O/$1.out" && { [ -z "${5:-}" ] || ! grep -q -- "$5" "$O/$1.out"; }; then
		ok "$1"; else bad "$1" "$1"; fi
}
expect_fail() { # NAME MD MESSAGE
	if book "$1" html "$2"; then bad "$1 (built, should have failed)" "$1"
	elif grep -q -- "$3" "$O/$1.err"; then ok "$1"
	else bad "$1 (wrong message)" "$1"; fi
}

H='# Chapter {#sec:ch}'
expect_ok region-included html "$H
\`\`\`{.c include=\"vmm/sample.c\" region=\"sample_table\"}
\`\`\`" "sample_table" "@region"
expect_ok nested-lab-shows-stub html "$H
\`\`\`{.c include=\"vmm/sample.c\" region=\"sample_with_lab\"}
\`\`\`" "lab_todo" "SECRET-SOLUTION-LINE"
expect_ok whole-file-hides-lab html "$H
\`\`\`{.c include=\"vmm/sample.c\"}
\`\`\`" "Double the value" "SECRET-SOLUTION-LINE"
expect_ok lab-stub-shown html "$H
\`\`\`{.c include=\"vmm/sample.c\" region=\"sample_step\" show=\"stub\"}
\`\`\`" "sample_step" "SECRET-SOLUTION-LINE"
expect_ok listing-numbered-latex latex "$H
\`\`\`{.c include=\"vmm/sample.c\" region=\"sample_table\" #lst:t}
\`\`\`
See @lst:t." 'Listing~\\ref{lst:t}'
expect_ok lab-stub-function-shape html "$H
\`\`\`{.c include=\"vmm/sample.c\" region=\"sample_add\" show=\"stub\"}
\`\`\`" "Why this function exists" "SECRET-SOLUTION-LINE"
expect_fail lab-body-refused "$H
\`\`\`{.c include=\"vmm/sample.c\" region=\"sample_step\"}
\`\`\`" "is lab 1's exercise"
expect_fail missing-region "$H
\`\`\`{.c include=\"vmm/sample.c\" region=\"no_such_region\"}
\`\`\`" "missing region 'no_such_region' in solution/vmm/sample.c"
expect_fail missing-file "$H
\`\`\`{.c include=\"vmm/nope.c\" region=\"x\"}
\`\`\`" "missing include file: solution/vmm/nope.c"
expect_fail pasted-code "$H
\`\`\`c
int pasted(void) { return 0; }
\`\`\`" "without include="
expect_fail unresolved-ref "$H
See @fig:nothing." "unresolved reference @fig:nothing"
expect_fail escape-solution-dir "$H
\`\`\`{.c include=\"../../etc/passwd\"}
\`\`\`" "stay inside it"

expect_ok source-map-ok html "$H
::: {.source-map}
| kvmlabs | file |
|---|---|
| \`sample_run()\` | \`vmm/sample.c\` |
:::" "sample_run"
expect_fail source-map-stale "$H
::: {.source-map}
| kvmlabs | file |
|---|---|
| \`renamed_away()\` | \`vmm/sample.c\` |
:::" "renamed_away() is not defined in solution/vmm/sample.c"

echo "book filter tests: $((n-fails))/$n passed"
[ "$fails" -eq 0 ]
