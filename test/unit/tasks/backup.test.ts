import { describe, expect, it } from 'vitest';
import { backupTask, GLOB_SCRIPT } from '../../../src/tasks/backup.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn, rollbackOn } from '../../support/fake-steps.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function fleet(): FakeHost {
  return new FakeHost()
    .file('/root/.pem/agent7.crt', 'CRT', { mode: 0o644 })
    .file('/root/.pem/agent7.key', 'KEY', { mode: 0o600 })
    .file('/etc/pem/agent.cfg', 'CFG', { mode: 0o644, uid: 1000, gid: 1000 });
}

describe('backup', () => {
  it('expands globs, copies with owner and mode, registers the list; rollback removes only the copies', async () => {
    const h = fleet();
    const before = h.snapshot('/nothing');
    const plan = await planOn(backupTask, h, { paths: ['/root/.pem/agent*', '/etc/pem/agent.cfg'] });
    expect(plan.changed).toBe(true);
    expect(plan.result).toEqual({
      backups: [
        { path: '/root/.pem/agent7.crt', backup: '/var/backups/fleetplay/run1/t1/root/.pem/agent7.crt', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), mode: '0644', owner: 'root', group: 'root' },
        { path: '/root/.pem/agent7.key', backup: '/var/backups/fleetplay/run1/t1/root/.pem/agent7.key', sha256: expect.any(String), mode: '0600', owner: 'root', group: 'root' },
        { path: '/etc/pem/agent.cfg', backup: '/var/backups/fleetplay/run1/t1/etc/pem/agent.cfg', sha256: expect.any(String), mode: '0644', owner: 'enterprisedb', group: 'enterprisedb' },
      ],
    });
    await applyFakeSteps(h, plan.steps);
    expect(h.fs.get('/var/backups/fleetplay/run1/t1/root/.pem/agent7.key')).toMatchObject({ mode: 0o600, content: Buffer.from('KEY') });
    expect(h.fs.get('/var/backups/fleetplay/run1/t1/etc/pem/agent.cfg')).toMatchObject({ uid: 1000, gid: 1000 });

    const again = await planOn(backupTask, h, { paths: ['/root/.pem/agent*', '/etc/pem/agent.cfg'] });
    expect(again.changed).toBe(false);
    expect(again.reason).toMatch(/all 3 files are already backed up in this run/);

    await rollbackOn(backupTask, h, plan);
    expect(h.content('/root/.pem/agent7.key')).toBe('KEY');
    expect(h.fs.has('/var/backups/fleetplay/run1/t1/root/.pem/agent7.key')).toBe(false);
    const after = h.snapshot('/nothing');
    for (const p of Object.keys(before)) expect(after[p]).toEqual(before[p]);
  });

  it('a missing literal path fails unless ignore_missing; a glob with no match is ok', async () => {
    const h = fleet();
    expect((await planOn(backupTask, h, { path: '/etc/nope.cfg' })).failed).toMatch(/nothing to back up at \/etc\/nope.cfg/);
    const p = await planOn(backupTask, h, { path: '/etc/nope.cfg', ignore_missing: true });
    expect(p.changed).toBe(false);
    expect(p.reason).toMatch(/no files match/);
    expect((await planOn(backupTask, h, { path: '/srv/*.crt' })).reason).toMatch(/no files match/);
  });

  it('dest overrides the backup root', async () => {
    const h = fleet();
    const p = await planOn(backupTask, h, { path: '/etc/pem/agent.cfg', dest: '/srv/keep' });
    expect(p.steps).toEqual([{ kind: 'backup', path: '/etc/pem/agent.cfg', to: '/srv/keep/t1/etc/pem/agent.cfg' }]);
  });

  it('the real glob script expands patterns without splitting or running them', () => {
    const d = mkdtempSync(join(tmpdir(), 'fp-glob-'));
    writeFileSync(join(d, 'a b.crt'), 'x');
    writeFileSync(join(d, 'c.crt'), 'x');
    writeFileSync(join(d, 'c.key'), 'x');
    const out = execFileSync('sh', ['-c', GLOB_SCRIPT, 'sh', join(d, '*.crt'), join(d, '$(touch pwned)'), `${join(d, 'c.key')}; touch ${join(d, 'pwned')}`]).toString();
    expect(out.split('\0').filter(Boolean)).toEqual([join(d, 'a b.crt'), join(d, 'c.crt')]);
    expect(() => execFileSync('test', ['-e', join(d, 'pwned')])).toThrow();
  });
});
