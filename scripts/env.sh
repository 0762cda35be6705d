# Sourced by ./dev and .ci/run: puts a Node >= 22.12 and pnpm first on PATH.
# These machines ship Node 20 (past end of life); when the machine's Node is older than 22.12 we
# install the npm registry's `node@24` package into .tools/node (git-ignored) and use that.
_custos_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_custos_tools="$_custos_root/.tools"
_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)'
}
if [ -x "$_custos_tools/node/node_modules/.bin/node" ]; then
  export PATH="$_custos_tools/node/node_modules/.bin:$PATH"
fi
if ! _node_ok; then
  command -v npm >/dev/null 2>&1 || { echo "custos: no Node.js/npm found; install Node.js (any version with npm) first" >&2; return 1; }
  echo "custos: Node $(node -v 2>/dev/null || echo none) is older than 22.12; installing node@24 into .tools/node" >&2
  npm install --silent --no-audit --no-fund --prefix "$_custos_tools/node" node@24 >&2 || { echo "custos: could not install node@24 from the npm registry" >&2; return 1; }
  export PATH="$_custos_tools/node/node_modules/.bin:$PATH"
  _node_ok || { echo "custos: node@24 installed but 'node -v' says $(node -v)" >&2; return 1; }
fi
_pnpm_version="$(node -p 'require(process.argv[1]).packageManager.split("@")[1]' "$_custos_root/package.json")"
if [ -x "$_custos_tools/pnpm/node_modules/.bin/pnpm" ]; then
  export PATH="$_custos_tools/pnpm/node_modules/.bin:$PATH"
fi
if [ "$(pnpm -v 2>/dev/null)" != "$_pnpm_version" ]; then
  echo "custos: installing pnpm@$_pnpm_version into .tools/pnpm" >&2
  npm install --silent --no-audit --no-fund --prefix "$_custos_tools/pnpm" "pnpm@$_pnpm_version" >&2 || { echo "custos: could not install pnpm" >&2; return 1; }
  export PATH="$_custos_tools/pnpm/node_modules/.bin:$PATH"
fi
unset -f _node_ok
