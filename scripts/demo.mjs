#!/usr/bin/env node
// The main job, end to end, on the built-in local lab:
//   1. lab up: a PEM-like fleet (PostgreSQL with client-certificate auth, OpenSSH hosts, agents)
//   2. check: the trusted-CA migration as a dry run (what would change, per host)
//   3. run: the migration with live progress
//   4. the validation report: every agent connects with a certificate from the trusted CA
// Usage: npm run demo [-- --agents N] [--dir lab]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const agents = opt('--agents', '5');
const labDir = resolve(opt('--dir', join(root, 'lab')));
const inventory = join(labDir, 'inventory.yaml');
const cli = join(root, 'bin', 'fleetplay.js');

if (!existsSync(join(root, 'dist', 'cli.js'))) {
  console.error('fleetplay is not built: run `npm ci` (or `npm run build`) first.');
  process.exit(1);
}

function step(title) {
  console.log(`\n=== ${title} ===`);
}

function fleetplay(argv, { allowFail = false } = {}) {
  console.log(`$ fleetplay ${argv.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...argv], { stdio: 'inherit', env: process.env, cwd: root });
  if (r.status !== 0 && !allowFail) {
    console.error(`\ndemo stopped: \`fleetplay ${argv[0]}\` exited with ${r.status}. The lab is still up in ${labDir}; stop it with: npx fleetplay lab down --dir ${labDir}`);
    process.exit(r.status ?? 1);
  }
  return r.status;
}

step('1. A fresh local PEM lab');
if (existsSync(labDir)) {
  fleetplay(['lab', 'down', '--dir', labDir], { allowFail: true });
  rmSync(labDir, { recursive: true, force: true });
}
fleetplay(['lab', 'up', '--dir', labDir, '--agents', agents]);
// The lab's database password, for the sql tasks (password_env: PEM_DB_PASSWORD); never printed.
for (const line of readFileSync(join(labDir, 'secrets.env'), 'utf8').split('\n')) {
  const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
  if (m) process.env[m[1]] = m[2];
}
fleetplay(['lab', 'status', '--dir', labDir]);

const playbook = join(root, 'playbooks', 'pem-trusted-ca.yaml');
step('2. Dry run: what the trusted-CA migration would change (nothing is changed)');
fleetplay(['check', playbook, '-i', inventory, '--diff']);

step('3. The migration');
fleetplay(['run', playbook, '-i', inventory]);

step('4. Validation: every agent connects with its new certificate');
fleetplay(['certs', 'check', '-i', inventory]);
// Agents reconnect every second; give each one beat with its new certificate.
spawnSync('sleep', ['3']);
fleetplay(['lab', 'status', '--dir', labDir]);

console.log(`\nDone. The lab is still running in ${labDir}:`);
console.log(`  npx fleetplay lab status --dir ${labDir}    # heartbeats and certificates`);
console.log(`  npx fleetplay lab down --dir ${labDir}      # stop it`);
