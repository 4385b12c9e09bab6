#!/usr/bin/env bash
# Regenerates docs/cli.md from the program's own --help texts.
set -euo pipefail
cd "$(dirname "$0")/.."
STAI=${1:-./build/stai}
{
  echo "# The \`stai\` program"
  echo
  echo "Generated from \`stai --help\` and \`stai COMMAND --help\` by dev/make_cli_doc.sh."
  echo
  echo "Every command prints progress on stderr (a bar on a terminal, plain lines"
  echo "otherwise; \`--quiet\` silences it), exits 0 on success, 1 on an error"
  echo "(one line \`stai: error: ...\` saying what is wrong and how to fix it, and"
  echo "no output file left behind), 2 on a usage error, 130 / 143 when interrupted"
  echo "by Ctrl-C / SIGTERM (docs/bad-input.md lists the bad inputs and their"
  echo "messages). With \`--json\` the last"
  echo "line of stdout is one JSON object summarising the run (or the error)."
  echo
  echo '```'
  "$STAI" --help
  echo '```'
  for c in demo inspect impute annotate cv; do
    echo
    echo "## stai $c"
    echo
    echo '```'
    "$STAI" "$c" --help
    echo '```'
  done
} > docs/cli.md
