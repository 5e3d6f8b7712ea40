#!/usr/bin/env bash
# Loads every config file of the authors' repository (jiachenlei/maskdm, configs/) with
# `maskdm train CONFIG --dry-run`, one line per file: OK, or the error. Exit 1 if any fails.
#   scripts/check_authors_configs.sh AUTHORS_DIR [MASKDM_BINARY]
set -uo pipefail
authors=${1:?usage: scripts/check_authors_configs.sh AUTHORS_DIR [MASKDM_BINARY]}
bin=${2:-.build/release/maskdm}
[[ -x $bin ]] || { echo "no maskdm binary at $bin: run make build (or give its path)" >&2; exit 2; }
[[ -d $authors/configs ]] || { echo "$authors has no configs/ folder: give a checkout of jiachenlei/maskdm" >&2; exit 2; }
failed=0 total=0
while IFS= read -r config; do
  total=$((total + 1))
  if err=$("$bin" train "$config" -o /nonexistent --dry-run 2>&1 >/dev/null); then
    echo "OK    ${config#"$authors"/}"
  else
    failed=$((failed + 1))
    echo "FAIL  ${config#"$authors"/}: $err"
  fi
done < <(find "$authors/configs" -name '*.yml' -o -name '*.yaml' | sort)
echo "$((total - failed)) of $total configs load"
[[ $failed -eq 0 ]]
