#!/usr/bin/env bash
# Refreshes the msal-browser build that erp-server embeds, from the npm registry.
#
#   tools/msal/update.sh            # reinstall the version pinned in package-lock.json
#   tools/msal/update.sh 5.31.0     # move the pin to another version first
#
# npm installs into this folder's node_modules/ (a scratch folder, not committed); the
# built browser files and the licence are copied to examples/server/static/vendor/, which
# the server embeds with include_bytes!. Rebuild the server afterwards.
set -euo pipefail
cd "$(dirname "$0")"
if [ $# -ge 1 ]; then
  npm install --save-exact --no-audit --no-fund "@azure/msal-browser@$1"
else
  npm ci --no-audit --no-fund
fi
src=node_modules/@azure/msal-browser
dest=../../examples/server/static/vendor
mkdir -p "$dest"
cp "$src/lib/msal-browser.min.js" "$dest/msal-browser.min.js"
cp "$src/lib/redirect-bridge/msal-redirect-bridge.min.js" "$dest/msal-redirect-bridge.min.js"
cp "$src/LICENSE" "$dest/msal-browser.LICENSE"
version=$(node -p "require('./$src/package.json').version")
echo "$version" > "$dest/msal-browser.VERSION"
echo "msal-browser $version copied to examples/server/static/vendor/"
