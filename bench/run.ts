/**
 * `npm run bench`: fleetplay side by side with Ansible and the physical floors, on a real sshd
 * fleet on loopback, each contender run alternately several times in one invocation; prints the
 * medians and ratios and writes bench/RESULTS.md. See bench/README.md for the flags.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ANSIBLE_CONFIGS, ansibleContender, cpuFloorScript, fleetplayContender, shellFloorContender, ssh2FloorContender } from './lib/contenders.js';
import type { AnsibleConfig, Contender, Scenario } from './lib/contenders.js';
import { BENCH_DIR, startBenchFleet } from './lib/fleet.js';
import type { BenchFleet } from './lib/fleet.js';
import { timed } from './lib/measure.js';
import type { Sample } from './lib/measure.js';
import { topFrames } from './lib/profile.js';
import { machineInfo, renderResults, summarize } from './lib/report.js';
import type { CpuFloor, ProfileSummary, SizeResult } from './lib/report.js';
import { noopPlaybook, noopPlaybookFleetplay, rotatePlaybookAnsible, rotatePlaybookFleetplay } from './lib/scenarios.js';
import { ensureAnsible } from './lib/setup.js';

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    hosts: { type: 'string' },
    reps: { type: 'string' },
    scenarios: { type: 'string' },
    ansible: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'pki-n': { type: 'string' },
    out: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'ansible-reps': { type: 'string' },
  },
});

const quick = opt.quick ?? false;
const sizes = (opt.hosts ?? (quick ? '10' : '10,100')).split(',').map(Number);
const reps = Number(opt.reps ?? (quick ? 2 : 3));
const ansibleReps = Number(opt['ansible-reps'] ?? 1);
const scenarios = (opt.scenarios ?? 'noop,rotate,pki').split(',');
const ansibleSet = opt.ansible ?? (quick ? 'mitogen' : 'default');
const pkiN = Number(opt['pki-n'] ?? (quick ? 100 : 1000));
const work = join(BENCH_DIR, '.work');
const out = opt.out ?? join(BENCH_DIR, 'RESULTS.md');
const log = (s: string): void => void process.stdout.write(`${s}\n`);

/** The newest mtime under a directory. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

function build(): void {
  const cli = join(work, 'build', 'cli.js');
  if (existsSync(cli) && statSync(cli).mtimeMs > newest(join(BENCH_DIR, '..', 'src'))) return;
  log('building src/ into bench/.work/build (tsc) ...');
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', join(work, 'build')], { cwd: join(BENCH_DIR, '..'), stdio: 'pipe' });
  } catch {
    // type errors still emit JavaScript; a missing cli.js below is the real failure
  }
}

/** Runs per contender: fleetplay and the floors `reps` times (rotate at 100+ hosts fewer), Ansible `ansibleReps`. */
function repsFor(id: string, s: Scenario, n: number): number {
  const isAnsible = id.startsWith('ansible') || id.startsWith('mitogen');
  if (isAnsible) return ansibleReps;
  return n >= 100 && s === 'rotate' && opt.reps === undefined ? Math.min(reps, 2) : reps;
}

/**
 * default: the whole Ansible matrix for noop at the smallest size, the two best configurations
 * (forks 50 + pipelining, and Mitogen) elsewhere; all; best; mitogen; none.
 */
function ansibleConfigs(s: Scenario, n: number): AnsibleConfig[] {
  const best = ANSIBLE_CONFIGS.filter((c) => c.id === 'ansible-f50-pipe' || c.mitogen);
  switch (ansibleSet) {
    case 'none':
      return [];
    case 'all':
      return ANSIBLE_CONFIGS;
    case 'best':
      return best;
    case 'mitogen':
      // --quick: Mitogen, the fastest Ansible, on noop only
      return s === 'noop' ? ANSIBLE_CONFIGS.filter((c) => c.mitogen) : [];
    default:
      return s === 'noop' && n === Math.min(...sizes) ? ANSIBLE_CONFIGS : best;
  }
}

function contenders(s: Scenario, fleet: BenchFleet, dir: string, profileDir?: string): Contender[] {
  const fpBook = join(dir, `${s}.fleetplay.yaml`);
  const anBook = join(dir, `${s}.ansible.yaml`);
  writeFileSync(fpBook, s === 'noop' ? noopPlaybookFleetplay() : rotatePlaybookFleetplay());
  writeFileSync(anBook, s === 'noop' ? noopPlaybook() : rotatePlaybookAnsible());
  const n = fleet.n;
  const list: Contender[] = [
    s === 'noop' ? ssh2FloorContender(fleet, dir, repsFor('floor', s, n)) : shellFloorContender(fleet, dir, repsFor('floor', s, n)),
    fleetplayContender(fpBook, fleet, dir, repsFor('fleetplay', s, n), profileDir),
  ];
  for (const c of ansibleConfigs(s, n)) list.push(ansibleContender(c, anBook, fleet, dir, repsFor(c.id, s, n)));
  return list;
}

async function runSize(s: Scenario, fleet: BenchFleet, profileDir?: string): Promise<SizeResult> {
  const dir = join(work, `${s}-${fleet.n}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const list = contenders(s, fleet, dir, profileDir);
  const samples = new Map<string, Sample[]>(list.map((c) => [c.id, []]));
  const failures = new Map<string, string>();
  const maxReps = Math.max(...list.map((c) => c.reps));
  for (let r = 0; r < maxReps; r++) {
    for (const c of list) {
      const got = samples.get(c.id) ?? [];
      if (got.length >= c.reps || failures.has(c.id)) continue;
      if (s === 'rotate') fleet.seedRotate();
      try {
        const smp = await timed(c.argv, { env: c.env, logFile: join(dir, `${c.id}.${r}.log`) });
        got.push(smp);
        log(`  ${s} n=${fleet.n} run ${r + 1} ${c.id.padEnd(18)} ${(smp.wallMs / 1000).toFixed(2)} s  cpu ${(smp.cpuMs / 1000).toFixed(2)} s  rss ${smp.maxRssMb.toFixed(0)} MB`);
      } catch (e) {
        failures.set(c.id, (e as Error).message.split('\n').slice(0, 12).join('\n'));
        log(`  ${s} n=${fleet.n} ${c.id} FAILED: ${(e as Error).message.split('\n')[0]}`);
      } finally {
        c.after?.();
      }
    }
  }
  let cpuFloor: CpuFloor | undefined;
  if (s === 'rotate') cpuFloor = await measureCpuFloor(fleet, dir);
  return summarize(s, fleet.n, list, samples, failures, cpuFloor);
}

async function measureCpuFloor(fleet: BenchFleet, dir: string): Promise<CpuFloor> {
  fleet.seedRotate();
  const script = join(dir, 'cpu-floor.sh');
  writeFileSync(script, cpuFloorScript(fleet));
  const smp = await timed(['sh', script], { logFile: join(dir, 'cpu-floor.log') });
  const cores = Number(execFileSync('nproc').toString().trim());
  log(`  rotate n=${fleet.n} host-side CPU ${(smp.cpuMs / 1000).toFixed(2)} s / ${cores} cores = ${(smp.cpuMs / cores / 1000).toFixed(2)} s`);
  return { cpuMs: smp.cpuMs, cores, floorMs: smp.cpuMs / cores };
}

function runPki(): string {
  log(`pki: bench/pki.bench.ts ${pkiN} ...`);
  try {
    return execFileSync('npx', ['tsx', join(BENCH_DIR, 'pki.bench.ts'), String(pkiN)], { cwd: join(BENCH_DIR, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return `pki bench failed: ${(e as Error).message.split('\n').slice(0, 5).join('\n')}`;
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  mkdirSync(work, { recursive: true });
  if (!opt['no-build']) build();
  if (ansibleSet !== 'none' && scenarios.some((s) => s !== 'pki')) ensureAnsible(log);
  const results: SizeResult[] = [];
  const profiles: ProfileSummary[] = [];
  const load0 = loadavg();
  for (const n of sizes) {
    log(`fleet of ${n} hosts: starting one sshd per host on loopback ...`);
    const fleet = await startBenchFleet(n, work);
    try {
      for (const s of scenarios.filter((x): x is Scenario => x === 'noop' || x === 'rotate')) {
        results.push(await runSize(s, fleet));
        // A partial page after every table, so a long or interrupted run leaves its figures behind.
        writeFileSync(out, render(results, undefined, profiles, (Date.now() - t0) / 1000, load0, true));
      }
      if (opt.profile && n === Math.max(...sizes)) {
        for (const s of scenarios.filter((x): x is Scenario => x === 'noop' || x === 'rotate')) profiles.push(await profileRun(s, fleet));
      }
    } finally {
      await fleet.stop();
    }
  }
  const pki = scenarios.includes('pki') ? runPki() : undefined;
  const totalS = (Date.now() - t0) / 1000;
  const md = render(results, pki, profiles, totalS, load0, false);
  writeFileSync(out, md);
  log(`\n${md}`);
  log(`wrote ${out} (${totalS.toFixed(0)} s in all)`);
}

const fmtLoad = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' / ');

function render(results: SizeResult[], pki: string | undefined, profiles: ProfileSummary[], totalS: number, load0: number[], partial: boolean): string {
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const machine = { ...machineInfo(), 'load average (1/5/15 min) at start → end': `${fmtLoad(load0)} → ${fmtLoad(loadavg())}` };
  const md = renderResults({ machine, command, results, pki, profiles, totalS, reps });
  return partial ? md.replace('# Benchmark results\n', '# Benchmark results (partial: the run was still going)\n') : md;
}

/** One fleetplay run under node --cpu-prof; the profile's top frames. */
async function profileRun(s: Scenario, fleet: BenchFleet): Promise<ProfileSummary> {
  const dir = join(work, `profile-${s}-${fleet.n}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const c = contenders(s, fleet, dir, dir).find((x) => x.id === 'fleetplay');
  if (c === undefined) throw new Error('no fleetplay contender');
  if (s === 'rotate') fleet.seedRotate();
  const smp = await timed(c.argv, { env: c.env, logFile: join(dir, 'fleetplay.log') });
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`);
  log(`  profile: ${join(dir, file)}`);
  return { scenario: s, n: fleet.n, wallMs: smp.wallMs, file: join(dir, file), ...topFrames(join(dir, file), join(BENCH_DIR, '..')) };
}

await main();
