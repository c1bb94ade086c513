#!/usr/bin/env bash
# expect_report.sh VALGRIND PROGRAM: passes only if valgrind memcheck reports
# a secret-dependent branch and a secret-dependent memory index in PROGRAM
# (and the program itself ran to completion), i.e. the ct test can fail.
set -u
valgrind=$1 program=$2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$valgrind" --error-exitcode=77 --track-origins=yes "$program" >"$log" 2>&1
rc=$?
cat "$log"
if [ "$rc" -ne 77 ]; then
	echo "expect_report: valgrind exit $rc, expected 77 (errors reported)" >&2
	exit 1
fi
grep -q "ct_selfcheck: compare=" "$log" || { echo "expect_report: program did not finish" >&2; exit 1; }
grep -q "Conditional jump or move depends on uninitialised value" "$log" ||
	{ echo "expect_report: secret-dependent branch not reported" >&2; exit 1; }
grep -q "Use of uninitialised value of size" "$log" ||
	{ echo "expect_report: secret-dependent index not reported" >&2; exit 1; }
echo "expect_report: the leaks were caught, as they must be"
