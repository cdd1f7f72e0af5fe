/**
 * The command line: run, check, validate, rollback, resume, inventory, certs, lab. It loads and
 * validates everything before the first connection, owns the exit code, and prints through
 * src/report only. Exit codes follow Ansible: 0 ok, 1 error, 2 a host failed, 3 a host unreachable,
 * 4 the playbook or inventory is invalid, 5 bad options; plus 10: hosts waiting (external CA) and
 * 99 interrupted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { FleetError, UsageError } from './errors.js';
import { loadInventory } from './inventory/load.js';
import type { Inventory } from './inventory/load.js';
import { applyLimit, selectHosts } from './inventory/pattern.js';
import { loadPlaybook } from './playbook/load.js';
import { validatePlaybook } from './playbook/validate.js';
import { consoleRedactor, printError, reporterFor, say } from './report/console.js';
import { writeJsonReport, writeJunitReport } from './report/files.js';
import { describeStep } from './tasks/steps.js';
import { findTask, taskNames } from './tasks/index.js';
import type { RunSummary } from './runner/events.js';
import { readRunMeta, rollbackRun, runPlaybook } from './runner/run.js';
import { runDirFor } from './runner/paths.js';
import { pendingUndo, readJournal } from './runner/journal.js';
import type { ConnectorOptions } from './runner/connector.js';
import { labCommand } from './lab/cli.js';

interface CommonOpts {
  inventory: string;
  limit?: string;
  extraVars: string[];
  forks: string;
  tags?: string;
  skipTags?: string;
  diff?: boolean;
  json?: string;
  junit?: string;
  knownHosts?: string;
  acceptNewHostKeys?: boolean;
  timeout: string;
  yes?: boolean;
  verbose?: boolean;
  plain?: boolean;
  breakStaleLock?: boolean;
}

export const EXIT = { ok: 0, error: 1, failed: 2, unreachable: 3, invalid: 4, usage: 5, waiting: 10, interrupted: 99 } as const;

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** `-e k=v`, `-e '{"k": 1}'`, `-e @vars.yaml`. */
export function parseExtraVars(items: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    if (item.startsWith('@')) {
      const file = item.slice(1);
      if (!existsSync(file)) throw new UsageError(`extra vars file ${file} does not exist`);
      Object.assign(out, parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>);
    } else if (item.trim().startsWith('{')) {
      try {
        Object.assign(out, JSON.parse(item) as Record<string, unknown>);
      } catch (e) {
        throw new UsageError(`-e ${item}: not valid JSON (${(e as Error).message})`);
      }
    } else {
      for (const pair of item.split(/\s+(?=[A-Za-z_][A-Za-z0-9_]*=)/)) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(`-e ${pair}: expected key=value, a JSON object, or @file.yaml`);
        out[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
    }
  }
  return out;
}

function connectorOpts(o: CommonOpts): ConnectorOptions {
  const timeout = Number(o.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout ${o.timeout}: expected seconds, e.g. 10`);
  return {
    knownHostsFile: resolve(o.knownHosts ?? process.env.FLEETPLAY_KNOWN_HOSTS ?? join(homedir(), '.ssh', 'known_hosts')),
    acceptUnknownHostKey: o.acceptNewHostKeys === true,
    connectTimeoutMs: timeout * 1000,
    knownHostsExplicit: o.knownHosts !== undefined,
  };
}

function loadAll(playbookFile: string, o: CommonOpts): { inv: Inventory; pb: ReturnType<typeof loadPlaybook>; extraVars: Record<string, unknown> } {
  if (!existsSync(o.inventory)) throw new UsageError(`inventory ${o.inventory} does not exist`, { hint: 'pass -i <inventory.yaml>; see inventory.example.yaml' });
  if (!existsSync(playbookFile)) throw new UsageError(`playbook ${playbookFile} does not exist`);
  const extraVars = parseExtraVars(o.extraVars);
  consoleRedactor().addFromVars(extraVars);
  const inv = loadInventory(o.inventory);
  const pb = loadPlaybook(playbookFile, { findTask, taskNames });
  validatePlaybook(pb, inv, { extraVars, findTask, limit: o.limit });
  return { inv, pb, extraVars };
}

function exitFor(s: RunSummary): number {
  if (s.aborted?.startsWith('interrupted')) return EXIT.interrupted;
  if (s.hosts.some((h) => h.state === 'failed' || h.state === 'rolled-back' || h.state === 'rollback-failed')) return EXIT.failed;
  if (s.hosts.some((h) => h.state === 'unreachable')) return EXIT.unreachable;
  if (s.hosts.some((h) => h.state === 'stopped')) return EXIT.failed;
  if (s.hosts.some((h) => h.state === 'waiting')) return EXIT.waiting;
  return s.success ? EXIT.ok : EXIT.failed;
}

/** How a run ended, from its journal: what `resume` may continue. */
function runEndState(runId: string): 'succeeded' | 'rolled-back' | 'open' {
  const file = join(runDirFor(runId), 'journal.jsonl');
  if (!existsSync(file)) return 'open';
  const records = readJournal(file);
  const hosts = new Set(records.flatMap((r) => (r.t === 'undo' ? [r.host] : [])));
  if (hosts.size > 0 && [...hosts].every((h) => pendingUndo(records, h).length === 0) && records.some((r) => r.t === 'undone')) return 'rolled-back';
  const last = [...records].reverse().find((r) => r.t === 'end');
  return last !== undefined && last.t === 'end' && last.success ? 'succeeded' : 'open';
}

/** A pause gate on a terminal: the operator types yes to go on. */
async function confirmOnTerminal(prompt: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${prompt} [yes/no] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

function withSigint(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  let count = 0;
  const onInt = () => {
    count++;
    if (count === 1) {
      say('\nInterrupted: no new tasks will start; steps in flight finish (Ctrl-C again to exit now).');
      ac.abort();
    } else process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', onInt);
  return { signal: ac.signal, dispose: () => process.off('SIGINT', onInt) };
}

async function doRun(playbookFile: string, o: CommonOpts, check: boolean, resumeId?: string): Promise<number> {
  const { inv, pb, extraVars } = loadAll(playbookFile, o);
  const forks = Number(o.forks);
  if (!Number.isInteger(forks) || forks < 1) throw new UsageError(`--forks ${o.forks}: expected a positive integer`);
  const { signal, dispose } = withSigint();
  try {
    const summary = await runPlaybook({
      playbook: pb,
      inventory: inv,
      opts: {
        check,
        diff: o.diff === true,
        forks,
        limit: o.limit,
        tags: o.tags ? o.tags.split(',').map((t) => t.trim()) : [],
        skipTags: o.skipTags ? o.skipTags.split(',').map((t) => t.trim()) : [],
        extraVars,
        yes: o.yes === true,
        breakStaleLocks: o.breakStaleLock === true,
        confirm: process.stdin.isTTY === true ? confirmOnTerminal : undefined,
      },
      connector: connectorOpts(o),
      emit: reporterFor({ diff: o.diff === true, verbose: o.verbose === true, plain: o.plain }),
      signal,
      redactor: consoleRedactor(),
      resumeId,
    });
    await new Promise((r) => setTimeout(r, 20));
    if (o.json) writeJsonReport(o.json, summary);
    if (o.junit) writeJunitReport(o.junit, summary);
    return exitFor(summary);
  } finally {
    dispose();
  }
}

function commonOptions(cmd: Command): Command {
  return cmd
    .option('-i, --inventory <file>', 'inventory file (Ansible YAML format)', 'inventory.yaml')
    .option('-l, --limit <pattern>', 'further limit the hosts (Ansible host pattern, e.g. agents:!agent3)')
    .option('-e, --extra-vars <k=v|json|@file>', 'extra variables (highest precedence); repeatable', collect, [])
    .option('-f, --forks <n>', 'hosts worked on in parallel', '50')
    .option('-t, --tags <tags>', 'only run tasks with these tags (comma-separated)')
    .option('--skip-tags <tags>', 'skip tasks with these tags')
    .option('-D, --diff', 'show diffs of changed text files (never of secrets)')
    .option('--json <file>', 'write the full result as JSON')
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--known-hosts <file>', 'OpenSSH known_hosts file (default ~/.ssh/known_hosts, or $FLEETPLAY_KNOWN_HOSTS)')
    .option('--accept-new-host-keys', 'accept and record host keys not yet in known_hosts (a changed key is always refused)')
    .option('-T, --timeout <seconds>', 'SSH connect timeout', '10')
    .option('-y, --yes', 'answer yes to pause gates')
    .option('-v, --verbose', 'list every host result, not only changes and failures')
    .option('--plain', 'line output even on a terminal')
    .option('--break-stale-lock', "take over a host's run lock left by a run that ended or whose controller is gone");
}

export function buildProgram(setCode: (n: number) => void): Command {
  const program = new Command('fleetplay')
    .description('Run YAML playbooks over SSH with an honest dry run and rollback (Ansible-style).')
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  commonOptions(program.command('run <playbook>').description('run a playbook')).action(async (pbf: string, o: CommonOpts) => setCode(await doRun(pbf, o, false)));
  commonOptions(program.command('check <playbook>').description('dry run: show what would change on each host, change nothing')).action(async (pbf: string, o: CommonOpts) =>
    setCode(await doRun(pbf, o, true)),
  );
  commonOptions(program.command('validate <playbook>').description('check the playbook and inventory without connecting to any host')).action(async (pbf: string, o: CommonOpts) => {
    const { pb, inv } = loadAll(pbf, o);
    say(`${pbf}: valid — ${pb.plays.length} play(s), ${pb.plays.reduce((n: number, p: { tasks: unknown[] }) => n + p.tasks.length, 0)} task(s); inventory ${o.inventory}: ${inv.hosts.size} host(s)`);
    setCode(EXIT.ok);
  });

  program
    .command('rollback <run-id>')
    .description('put every host a run changed back as it was, newest change first')
    .option('-i, --inventory <file>', 'inventory (default: the one the run used)')
    .option('--check', 'show what rollback would do, change nothing')
    .option('-l, --limit <hosts>', 'only these hosts (comma-separated names)')
    .option('--known-hosts <file>', 'OpenSSH known_hosts file')
    .option('-T, --timeout <seconds>', 'SSH connect timeout', '10')
    .option('--force', 'roll back even when a newer run changed the same hosts, or some hosts are unreachable')
    .action(async (runId: string, o: { inventory?: string; check?: boolean; limit?: string; knownHosts?: string; timeout: string; force?: boolean }) => {
      const meta = readRunMeta(runId);
      const inv = loadInventory(o.inventory ?? meta.inventory);
      const connector = { ...meta.connector, ...(o.knownHosts ? { knownHostsFile: resolve(o.knownHosts) } : {}), connectTimeoutMs: Number(o.timeout) * 1000 };
      const emit = reporterFor({ diff: false, verbose: true, plain: true });
      const { signal, dispose } = withSigint();
      try {
        const r = await rollbackRun({ runId, inventory: inv, connector, check: o.check === true, force: o.force === true, hosts: o.limit?.split(','), emit, signal });
        if (r.planned.length === 0) {
          say(`run ${runId}: nothing to roll back (every change is already undone, or the run changed nothing)`);
          setCode(EXIT.ok);
          return;
        }
        if (o.check) {
          say(`rollback of run ${runId} would (nothing is changed now):`);
          for (const p of r.planned) {
            say(`  ${p.host}:`);
            for (const rec of p.records) {
              say(`    undo "${rec.task}" (${rec.where})${rec.applied ? '' : ' [was interrupted mid-apply]'}${rec.target !== p.host ? ` on ${rec.target}` : ''}`);
              for (const s of rec.steps) say(`      - ${describeStep(s)}`);
            }
          }
          setCode(EXIT.ok);
          return;
        }
        say(`rollback ${runId}: ${r.ok.length} host(s) restored and verified${r.failed.length ? `, ${r.failed.length} FAILED: ${r.failed.join(', ')}` : ''}`);
        setCode(r.failed.length ? EXIT.failed : EXIT.ok);
      } finally {
        dispose();
      }
    });

  commonOptions(program.command('resume <run-id>').description('continue a failed, killed or waiting run (same run id and journal)')).action(async (runId: string, o: CommonOpts) => {
    const meta = readRunMeta(runId);
    if (meta.check) {
      throw new UsageError(`run ${runId} was a dry run (check); there is nothing to resume`, { hint: `start the real run with fleetplay run ${meta.playbook} -i ${meta.inventory}` });
    }
    const state = runEndState(runId);
    if (state === 'succeeded') {
      say(`run ${runId} finished successfully; there is nothing to resume (start a new run to apply the playbook again)`);
      setCode(EXIT.ok);
      return;
    }
    if (state === 'rolled-back') {
      throw new UsageError(`run ${runId} was rolled back; resuming it would apply its changes again`, { hint: `start a new run instead: fleetplay run ${meta.playbook} -i ${meta.inventory}` });
    }
    const saved = join(runDirFor(runId), 'playbook.yaml');
    if (existsSync(meta.playbook) && existsSync(saved) && readFileSync(meta.playbook, 'utf8') !== readFileSync(saved, 'utf8')) {
      throw new UsageError(`${meta.playbook} changed since run ${runId} started; resume continues the same playbook`, {
        hint: `put back the version the run used (a copy is in ${saved}), or start a new run`,
      });
    }
    const given = o.extraVars;
    const merged: CommonOpts = {
      ...o,
      inventory: o.inventory === 'inventory.yaml' ? meta.inventory : o.inventory,
      limit: o.limit ?? meta.limit,
      extraVars: [JSON.stringify(meta.extraVars), ...given],
    };
    setCode(await doRun(meta.playbook, merged, false, runId));
  });

  program
    .command('inventory')
    .description('list the hosts a pattern selects, with their vars')
    .option('-i, --inventory <file>', 'inventory file', 'inventory.yaml')
    .option('-l, --limit <pattern>', 'host pattern', 'all')
    .option('--vars', 'show each host’s merged vars')
    .action((o: { inventory: string; limit: string; vars?: boolean }) => {
      if (!existsSync(o.inventory)) throw new UsageError(`inventory ${o.inventory} does not exist`);
      const inv = loadInventory(o.inventory);
      const hosts = applyLimit(selectHosts(inv, 'all'), inv, o.limit);
      for (const h of hosts) {
        const host = inv.hosts.get(h);
        say(`${h}  groups=${(host?.groups ?? []).join(',')}`);
        if (o.vars && host) for (const [k, v] of Object.entries(host.vars)) say(`    ${k}: ${JSON.stringify(v)}`);
      }
      say(`${hosts.length} host(s)`);
      setCode(EXIT.ok);
    });

  const certs = program.command('certs').description('certificate tools');
  commonOptions(certs.command('check').description('read-only audit of the PEM fleet’s certificates (runs playbooks/pem-validate.yaml)')).action(async (o: CommonOpts) => {
    const pbf = resolve(packageRoot(), 'playbooks', 'pem-validate.yaml');
    setCode(await doRun(pbf, { ...o, verbose: true }, false));
  });

  program.addCommand(labCommand(setCode));
  return program;
}

export function packageRoot(): string {
  return resolve(new URL('.', import.meta.url).pathname, '..');
}

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((n) => (code = n));
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    printError(e);
    if (e instanceof FleetError) return e.code === 'PLAYBOOK' || e.code === 'INVENTORY' ? EXIT.invalid : e.code === 'USAGE' ? EXIT.usage : EXIT.error;
    return EXIT.error;
  }
}

