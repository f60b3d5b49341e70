#!/usr/bin/env bash
# The differential test of the Velocity engine (run by CTest):
# compiles VelocityOracle.java, renders tests/velocity/corpus.txt with Apache
# Velocity 1.7 (Debian's `velocity` package, on a headless JRE) and compares
# every case byte for byte with Agentry's renderer (velocity_diff).
# Usage: run.sh WORK_DIR VELOCITY_DIFF_BINARY
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$1"
diff_bin="$2"
jars=/usr/share/java/velocity.jar:/usr/share/java/commons-collections3.jar:/usr/share/java/commons-lang.jar
for jar in ${jars//:/ }; do
  [[ -f "$jar" ]] || { echo "missing $jar: install the Debian package velocity" >&2; exit 1; }
done
mkdir -p "$work/classes"
javac -nowarn -d "$work/classes" -cp "$jars" "$here/VelocityOracle.java"
java -cp "$jars:$work/classes" VelocityOracle "$here/corpus.txt" >"$work/oracle.tsv"
"$diff_bin" "$here/corpus.txt" "$work/oracle.tsv"
