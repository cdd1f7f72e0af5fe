/**
 * Medians, ratios and the targets of issues 2 and 5, rendered as the bench/RESULTS.md page (also
 * printed). A target that is missed is written as missed, with the figure.
 */
import { cpus, release, totalmem } from 'node:os';
import type { Contender, Kind, Scenario } from './contenders.js';
import { fmtS, median } from './measure.js';
import type { Sample } from './measure.js';
import type { Frame } from './profile.js';
import { NOOP_TASKS } from './scenarios.js';
import { versions } from './setup.js';

export interface Row {
  id: string;
  label: string;
  kind: Kind;
  runs: number;
  wallMs: number;
  minMs: number;
  maxMs: number;
  cpuMs: number;
  rssMb: number;
}

export interface CpuFloor {
  cpuMs: number;
  cores: number;
  floorMs: number;
}

export interface SizeResult {
  scenario: Scenario;
  n: number;
  rows: Row[];
  failures: Array<[string, string]>;
  cpuFloor?: CpuFloor;
}

export interface ProfileSummary {
  scenario: Scenario;
  n: number;
  wallMs: number;
  file: string;
  totalMs: number;
  byFunction: Frame[];
  byFile: Frame[];
}

export function summarize(scenario: Scenario, n: number, list: Contender[], samples: Map<string, Sample[]>, failures: Map<string, string>, cpuFloor?: CpuFloor): SizeResult {
  const rows: Row[] = [];
  for (const c of list) {
    const s = samples.get(c.id) ?? [];
    if (s.length === 0) continue;
    const walls = s.map((x) => x.wallMs);
    rows.push({ id: c.id, label: c.label, kind: c.kind, runs: s.length, wallMs: median(walls), minMs: Math.min(...walls), maxMs: Math.max(...walls), cpuMs: median(s.map((x) => x.cpuMs)), rssMb: Math.max(...s.map((x) => x.maxRssMb)) });
  }
  return { scenario, n, rows, failures: [...failures.entries()].map(([id, msg]) => [list.find((c) => c.id === id)?.label ?? id, msg]), ...(cpuFloor ? { cpuFloor } : {}) };
}

export function machineInfo(): Record<string, string> {
  return {
    cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} (nproc)`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    ...versions(),
  };
}

const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—');

function table(r: SizeResult): string {
  const fp = r.rows.find((x) => x.id === 'fleetplay');
  const head = '| contender | runs | median wall | min – max | controller CPU (median) | peak RSS (largest process) | wall ÷ fleetplay |\n|---|---:|---:|---:|---:|---:|---:|';
  const lines = r.rows.map((x) => `| ${x.label} | ${x.runs} | ${fmtS(x.wallMs)} | ${fmtS(x.minMs)} – ${fmtS(x.maxMs)} | ${fmtS(x.cpuMs)} | ${x.rssMb.toFixed(0)} MB | ${fp ? ratio(x.wallMs, fp.wallMs) : '—'} |`);
  if (r.cpuFloor) lines.push(`| floor: host-side CPU of the shell + openssl work (${fmtS(r.cpuFloor.cpuMs)}) ÷ ${r.cpuFloor.cores} cores | 1 | ${fmtS(r.cpuFloor.floorMs)} | | | | ${fp ? ratio(r.cpuFloor.floorMs, fp.wallMs) : '—'} |`);
  const fails = r.failures.map(([label, msg]) => `\n**${label} failed:**\n\n\`\`\`\n${msg}\n\`\`\``).join('\n');
  return `### ${r.scenario}, ${r.n} hosts\n\n${head}\n${lines.join('\n')}\n${fails}`;
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'not measured' : ok ? '**met**' : '**missed**';
}

function targets(results: SizeResult[]): string {
  const get = (s: Scenario, n: number) => results.find((r) => r.scenario === s && r.n === n);
  const row = (r: SizeResult | undefined, id: string) => r?.rows.find((x) => x.id === id);
  const bestAnsible = (r: SizeResult | undefined) => r?.rows.filter((x) => x.kind === 'ansible' && !x.id.startsWith('mitogen')).sort((a, b) => a.wallMs - b.wallMs)[0];
  const out: string[] = [];
  const noop = get('noop', 100);
  const fpN = row(noop, 'fleetplay');
  if (noop && fpN) {
    const floor = row(noop, 'floor-ssh2');
    const best = bestAnsible(noop);
    const hostTasks = 100 * NOOP_TASKS;
    const overWall = floor ? (fpN.wallMs - floor.wallMs) / hostTasks : NaN;
    const overCpu = fpN.cpuMs / hostTasks;
    out.push(`- noop, 100 hosts: fleetplay ${fmtS(fpN.wallMs)}; best plain Ansible (${best?.label ?? '—'}) ${best ? fmtS(best.wallMs) : '—'} = ${best ? ratio(best.wallMs, fpN.wallMs) : '—'} fleetplay's time; target ≥ 10×: ${verdict(best ? best.wallMs / fpN.wallMs >= 10 : undefined)}.`);
    out.push(`- noop, 100 hosts: fleetplay ÷ bare ssh2 loop = ${floor ? ratio(fpN.wallMs, floor.wallMs) : '—'}; target ≤ 1.5×: ${verdict(floor ? fpN.wallMs / floor.wallMs <= 1.5 : undefined)}.`);
    out.push(`- Runner overhead per host-task (issue 2), 100 hosts × ${NOOP_TASKS} tasks: wall above the ssh2 floor ${overWall.toFixed(2)} ms; controller CPU ${overCpu.toFixed(2)} ms per host-task; target < 10 ms: ${verdict(Number.isFinite(overWall) ? Math.max(overWall, overCpu) < 10 : undefined)}.`);
  }
  const rot = get('rotate', 100);
  const fpR = row(rot, 'fleetplay');
  if (rot && fpR) {
    const shell = row(rot, 'floor-shell');
    const best = bestAnsible(rot);
    const mito = row(rot, 'mitogen-f50');
    out.push(`- rotate, 100 hosts: fleetplay ${fmtS(fpR.wallMs)} ÷ physical floor ${rot.cpuFloor ? fmtS(rot.cpuFloor.floorMs) : '—'} = ${rot.cpuFloor ? ratio(fpR.wallMs, rot.cpuFloor.floorMs) : '—'}; target ≤ 1.3×: ${verdict(rot.cpuFloor ? fpR.wallMs / rot.cpuFloor.floorMs <= 1.3 : undefined)}.`);
    out.push(`- rotate, 100 hosts: fleetplay ÷ hand-written parallel ssh script = ${shell ? ratio(fpR.wallMs, shell.wallMs) : '—'}; target ≤ 1×: ${verdict(shell ? fpR.wallMs <= shell.wallMs : undefined)}.`);
    out.push(`- rotate, 100 hosts: best plain Ansible (${best?.label ?? '—'}) = ${best ? ratio(best.wallMs, fpR.wallMs) : '—'} fleetplay's time, target ≥ 10×: ${verdict(best ? best.wallMs / fpR.wallMs >= 10 : undefined)}; Ansible + Mitogen = ${mito ? ratio(mito.wallMs, fpR.wallMs) : '—'}, target ≥ 5×: ${verdict(mito ? mito.wallMs / fpR.wallMs >= 5 : undefined)}.`);
  }
  for (const s of ['noop', 'rotate'] as const) {
    const big = row(get(s, 500), 'fleetplay');
    const mid = row(get(s, 100), 'fleetplay');
    if (big) {
      out.push(`- ${s}, 500 hosts: fleetplay peak RSS ${big.rssMb.toFixed(0)} MB, target < 400 MB: ${verdict(big.rssMb < 400)}; wall 500 ÷ 100 hosts = ${mid ? ratio(big.wallMs, mid.wallMs) : '—'} (linear would be 5×): ${verdict(mid ? big.wallMs / mid.wallMs <= 5 : undefined)}.`);
    }
  }
  return out.length > 0 ? out.join('\n') : '- (the 100-host sizes were not run)';
}

function profileSection(p: ProfileSummary | undefined): string {
  if (!p) return '';
  const f = (xs: Frame[]) => xs.map((x) => `| ${x.name.replace(/\|/g, '\\|')} | ${x.selfMs.toFixed(0)} ms | ${x.pct.toFixed(1)} % |`).join('\n');
  return `\n## Where fleetplay's controller time goes (${p.scenario}, ${p.n} hosts, node --cpu-prof)\n\nOne run under the profiler: ${fmtS(p.wallMs)} wall, ${fmtS(p.totalMs)} profiled. Self time, top frames:\n\n| function | self | share |\n|---|---:|---:|\n${f(p.byFunction)}\n\nBy file or package:\n\n| file | self | share |\n|---|---:|---:|\n${f(p.byFile)}\n`;
}

export function renderResults(r: { machine: Record<string, string>; command: string; results: SizeResult[]; pki: string | undefined; profiles: ProfileSummary[]; totalS: number; reps: number }): string {
  const machine = Object.entries(r.machine).map(([k, v]) => `- ${k}: ${v}`).join('\n');
  return `# Benchmark results

Written by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString()}; the whole invocation took ${r.totalS.toFixed(0)} s.

    ${r.command}

Every contender runs against the same real sshd fleet on loopback (one sshd per simulated host), the
same inventory, host keys checked against the fleet's known_hosts. Contenders run alternately
(A, B, C, A, B, C, ...), fleetplay and the floors up to ${r.reps} times, Ansible as often as the
"runs" column says (its runs take minutes at 100 hosts). The rotate scenario's hosts are reset
before every run, so every run does the full rotation.
Wall time is from spawn to exit of the controller process; CPU is the controller process and the
children it waited for; peak RSS is the largest single controller process (for Ansible that is
one process, not the sum of its forks).

## Machine

${machine}

## Targets

${targets(r.results)}

## Tables

${r.results.map(table).join('\n\n')}
${r.profiles.map(profileSection).join('')}
## pki (issue 3)

${r.pki === undefined ? 'not run' : `\`\`\`\n${r.pki}\n\`\`\``}
`;
}
