#!/usr/bin/env bash
# Opens a study's report.html in headless Chromium and saves what it shows as a PNG, to check that
# the charts and sample grids render with no network (the page is self-contained).
# Usage: scripts/screenshot_report.sh STUDY_DIR [OUT.png]     (HEIGHT=pixels for a longer page)
# Chromium is installed from Debian's packages when missing.
set -euo pipefail
dir=${1:?usage: scripts/screenshot_report.sh STUDY_DIR [OUT.png]}
out=${2:-$dir/report.png}
[[ -f $dir/report.html ]] || { echo "no report.html in $dir: run maskdm study run first" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z $browser ]]; then
  echo "installing chromium (Debian package) for the screenshot" >&2
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  browser=$(command -v chromium)
fi
# --no-sandbox: the browser runs as whatever user runs this (root in containers); the page is our own file.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1300,"${HEIGHT:-5200}" \
  --screenshot="$out" "file://$(realpath "$dir/report.html")" 2>/dev/null
echo "$out"
