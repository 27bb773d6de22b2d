#!/bin/sh
# Tests of filters/kvmlabs.lua: every case must succeed or fail as stated.
# Usage: run.sh OUTDIR   (run from book/tests)
set -u
O=${1:?usage: run.sh OUTDIR}
mkdir -p "$O"
FILTER=../filters/kvmlabs.lua
export KVMLABS_SOLUTION="$(pwd)/solution" KVMLABS_LABS="$(pwd)/labs" KVMLABS_FIGDIR="$O"
fails=0
n=0

book() { # book NAME FORMAT MARKDOWN -> $O/NAME.out, $O/NAME.err, status
	printf '%s\n' "$3" > "$O/$1.md"
	pandoc --from=markdown --lua-filter=$FILTER ${PANDOC_EXTRA:-} --to="$2" -o "$O/$1.out" "$O/$1.md" 2> "$O/$1.err"
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

# Handout questions: the Questions section of labs/NN-*/README.md, pulled in.
expect_ok handout-questions html "$H
## Questions {#sec:q}
::: {.handout-questions lab=\"01\"}
:::" "SAMPLE-QUESTION-TWO" "NOT-A-QUESTION"
expect_ok handout-questions-intro html "$H
::: {.handout-questions lab=\"1\"}
:::" "From the lab 01 handout" "not a question"
expect_ok handout-code-not-header html "$H
::: {.handout-questions lab=\"01\"}
:::" "not a header: inside a code block"
expect_ok handout-links-not-broken html "$H
::: {.handout-questions lab=\"01\"}
:::" "<code>solution/vmm/run.c</code>" 'href="../../solution'
expect_fail handout-missing-lab "$H
::: {.handout-questions lab=\"07\"}
:::" "no lab 07 directory"
expect_fail handout-no-questions "$H
::: {.handout-questions lab=\"02\"}
:::" "has no '## Questions' section"

# Tables: numbered per chapter when captioned; a #tbl: Div gives the id.
T='| a | b |
|---|---|
| 1 | 2 |'
expect_ok table-numbered-html html "$H
::: {#tbl:t}
$T

Table: The caption.
:::

See @tbl:t." "Table.0\.1:</strong> The caption" "Table 0.2"
expect_ok table-ref-html html "$H
$T

Table: First.

::: {#tbl:t}
$T

Table: Second.
:::

See @tbl:t." 'href="#tbl:t">Table.0\.2<'
expect_ok table-label-latex latex "$H
::: {#tbl:t}
$T

Table: The caption.
:::

See @tbl:t." 'The caption.\\label{tbl:t}'
warn_case() { # NAME MD MESSAGE: builds, with a warning
	if book "$1" html "$2" && grep -q -- "$3" "$O/$1.err"; then ok "$1"; else bad "$1" "$1"; fi
}
warn_case table-without-caption "$H
$T" "table without a caption in chapter 0 (first header cell: 'a')"
expect_fail tbl-div-without-caption "$H
::: {#tbl:t}
$T
:::" "table #tbl:t has no caption"

# Generated VMCS field table, from solution/kvm/vmx/vmcs.h.
expect_ok vmcs-fields html "$H
::: {#tbl:f .vmcs-fields}
:::" "GUEST_RIP" "HOST_RIP_NOT"
expect_ok vmcs-fields-area html "$H
::: {.vmcs-fields area=\"guest\"}
:::" "natural" "HOST_CS_SELECTOR"
expect_fail vmcs-fields-bad-area "$H
::: {.vmcs-fields area=\"nowhere\"}
:::" "unknown area 'nowhere'"

# Citations: the bibliography's are left to citeproc, cross-references resolved first.
PANDOC_EXTRA="--citeproc --bibliography=refs.bib"
expect_ok citation-and-xref html "$H
See @sec:ch and [@known2020, p. 3].

# References {#sec:refs .unnumbered}

::: {#refs}
:::

Back to @sec:refs." "A Known Book" "unresolved"
expect_ok xref-to-unnumbered html "$H
# References {#sec:refs .unnumbered}

See @sec:refs." 'href="#sec:refs">References<'
expect_fail citation-unknown "$H
See [@nobody1999]." "unknown citation @nobody1999"
expect_fail citation-mixed "$H
See [@sec:ch; @known2020]." "a cross-reference and a citation in one bracket"
PANDOC_EXTRA=""
expect_fail citation-without-bibliography "$H
See [@known2020]." "no bibliography"

echo "book filter tests: $((n-fails))/$n passed"
[ "$fails" -eq 0 ]
