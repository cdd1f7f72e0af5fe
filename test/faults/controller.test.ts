/**
 * Controller faults: SIGKILL at seeded random points of a run (the journal's length decides the
 * moment), each followed by `rollback <id>` (or `resume <id>`, then rollback) and a byte-for-byte
 * comparison; and two runs at once against the same hosts, which the per-host lock refuses, with a
 * stale lock (its controller killed) reported by run id and broken only on request.
 * Default: 4 seeds. FLEETPLAY_FAULTS_FULL=1: 24 seeds (or FLEETPLAY_FAULTS_SEEDS=n).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultPlaybook } from './playbooks.js';
import { expectJournalParses, expectRollbackRestores, FULL, newestRun, prng, runIds, sleep, startFaultEnv, statesOf, waitFor } from './support.js';
import type { FaultEnv } from './support.js';
import type { Snapshot } from '../support/snapshot.js';

const SEEDS = Number(process.env.FLEETPLAY_FAULTS_SEEDS ?? (FULL ? 24 : 4));
let env: FaultEnv;
let pb: string;
let finished: Record<string, Snapshot>;
let journalLines = 0;

function journalOf(runId: string): string {
  const f = join(env.home, 'runs', runId, 'journal.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

beforeAll(async () => {
  env = await startFaultEnv(['h1', 'h2', 'h3']);
  pb = env.writePlaybook('kill.yaml', faultPlaybook({ sleep: 0.2 }));
  // One clean run gives the state a completed run leaves, and the journal's length.
  env.seed();
  const before = env.snap();
  const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', join(env.work, 'clean.json')]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  finished = env.snap();
  const id = env.report(join(env.work, 'clean.json')).runId;
  journalLines = journalOf(id).split('\n').length - 1;
  await expectRollbackRestores(env, id, before);
}, 180_000);
afterAll(async () => {
  await env?.dispose();
});

describe('controller SIGKILL at seeded points', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}: kill, then ${seed % 2 === 0 ? 'resume completes the change, and ' : ''}rollback restores every host exactly`, async () => {
      const rand = prng(seed * 7919);
      env.seed();
      const before = env.snap();
      const known = runIds(env.home);
      const atLine = 1 + Math.floor(rand() * Math.max(1, journalLines - 1));
      const extraMs = Math.floor(rand() * 120);
      const { child, done } = env.spawnCli(['run', pb, '-i', env.inventory, '--plain']);
      const runId = await waitFor('the run directory', () => newestRun(env.home, known), 60_000, 10);
      await waitFor(`journal line ${atLine}`, () => journalOf(runId).split('\n').length - 1 >= atLine || child.exitCode !== null, 60_000, 2);
      await sleep(extraMs);
      child.kill('SIGKILL');
      await done;
      expectJournalParses(env.home, runId, { allowTornTail: true });
      if (seed % 2 === 0) {
        const res = await env.cli(['resume', runId, '--plain']);
        expect(res.code, `seed ${seed} (line ${atLine} +${extraMs}ms): ${res.stdout}${res.stderr}`).toBe(0);
        expect(env.snap()).toEqual(finished);
      }
      await expectRollbackRestores(env, runId, before);
    });
  }
});

describe('two runs against the same hosts', () => {
  it('the second run refuses every locked host before changing anything; the first completes and releases', async () => {
    env.seed();
    const slow = env.writePlaybook('slow.yaml', faultPlaybook({ sleep: 4 }));
    const known = runIds(env.home);
    const a = env.spawnCli(['run', slow, '-i', env.inventory, '--plain']);
    const runA = await waitFor('run A', () => newestRun(env.home, known), 60_000, 10);
    await waitFor('the locks of run A', () => env.names.every((n) => existsSync(env.lockFile(n))), 60_000, 10);
    expect(JSON.parse(readFileSync(env.lockFile('h1'), 'utf8'))).toMatchObject({ runId: runA, pid: a.child.pid });
    const json = join(env.work, 'second.json');
    const b = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    expect(b.code, b.stdout + b.stderr).toBe(2);
    const rep = env.report(json);
    expect(statesOf(rep)).toEqual({ h1: 'failed', h2: 'failed', h3: 'failed' });
    for (const h of rep.hosts) expect(h.error).toContain(`locked by run ${runA} (pid ${a.child.pid}`);
    expect(journalOf(rep.runId)).not.toContain('"t":"undo"');
    const ra = await a.done;
    expect(ra.code, ra.stdout + ra.stderr).toBe(0);
    for (const n of env.names) expect(existsSync(env.lockFile(n))).toBe(false);
  });

  it('a stale lock (controller killed) names its run; --break-stale-lock takes it over; both runs roll back in order', async () => {
    env.seed();
    const before = env.snap();
    const known = runIds(env.home);
    const a = env.spawnCli(['run', pb, '-i', env.inventory, '--plain']);
    const runA = await waitFor('run A', () => newestRun(env.home, known), 60_000, 10);
    await waitFor('a change of run A', () => (journalOf(runA).match(/"t":"applied"/g) ?? []).length >= 4, 60_000, 2);
    a.child.kill('SIGKILL');
    await a.done;
    // A remote command already sent (the rename of a written temp file) still completes on the host
    // after the controller dies: let it land before taking the midway picture.
    await new Promise((r) => setTimeout(r, 1500));
    const midway = env.snap();
    const json = join(env.work, 'stale.json');
    const b = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    expect(b.code).toBe(2);
    const locked = env.report(json).hosts.filter((h) => h.error?.includes(`locked by run ${runA}`));
    expect(locked.length).toBeGreaterThan(0);
    for (const h of locked) expect(h.error).toMatch(/looks stale: controller process \d+ .* is gone/);
    expect(env.snap()).toEqual(midway);

    const json2 = join(env.work, 'broken.json');
    const c = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--break-stale-lock', '--json', json2]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(env.snap()).toEqual(finished);
    for (const n of env.names) expect(existsSync(env.lockFile(n))).toBe(false);
    // Newest first: run C back to where A was killed, then A back to the start.
    const rc = await env.cli(['rollback', env.report(json2).runId]);
    expect(rc.code, rc.stdout + rc.stderr).toBe(0);
    // A kill that landed mid-write left A's temp file; C's write removed it, and undoing C does not
    // bring that debris back (A's own rollback below removes it in any case).
    const noTemps = (s: Record<string, Snapshot>) =>
      Object.fromEntries(Object.entries(s).map(([h, f]) => [h, Object.fromEntries(Object.entries(f).filter(([p]) => !p.endsWith('.fleetplay-write.tmp')))]));
    expect(noTemps(env.snap())).toEqual(noTemps(midway));
    await expectRollbackRestores(env, runA, before);
  });
});
