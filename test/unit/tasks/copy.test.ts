import { describe, expect, it } from 'vitest';
import { copyTask } from '../../../src/tasks/copy.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planAndApply, planOn, rollbackOn } from '../../support/fake-steps.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';

function state(h: FakeHost) {
  return h.snapshot();
}

describe('copy plan', () => {
  const cases: Array<{ name: string; setup: (h: FakeHost) => void; args: Record<string, unknown>; changed: boolean; reason?: RegExp; kinds?: string[] }> = [
    { name: 'creates a missing file', setup: (h) => h.dir('/etc/app'), args: { content: 'a\n', dest: '/etc/app/a.conf' }, changed: true, kinds: ['write'] },
    { name: 'same content, mode, owner is ok with a reason', setup: (h) => h.file('/etc/a', 'a\n', { mode: 0o644 }), args: { content: 'a\n', dest: '/etc/a', mode: '0644', owner: 'root' }, changed: false, reason: /already has this content \(mode 0644, owner root:root\)/ },
    { name: 'only the mode differs: attrs, no rewrite', setup: (h) => h.file('/etc/a', 'a\n', { mode: 0o644 }), args: { content: 'a\n', dest: '/etc/a', mode: '0600' }, changed: true, kinds: ['attrs'] },
    { name: 'only the owner differs: attrs', setup: (h) => h.file('/etc/a', 'a\n'), args: { content: 'a\n', dest: '/etc/a', owner: 'postgres', group: '26' }, changed: true, kinds: ['attrs'] },
    { name: 'new content: backup then write', setup: (h) => h.file('/etc/a', 'old\n'), args: { content: 'new\n', dest: '/etc/a' }, changed: true, kinds: ['backup', 'write'] },
    { name: 'force: no keeps an existing file', setup: (h) => h.file('/etc/a', 'old\n'), args: { content: 'new\n', dest: '/etc/a', force: 'no' }, changed: false, reason: /exists and force is off/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const h = new FakeHost();
      c.setup(h);
      const plan = await planOn(copyTask, h, c.args);
      expect(plan.failed).toBeUndefined();
      expect(plan.changed).toBe(c.changed);
      if (c.reason) expect(plan.reason).toMatch(c.reason);
      if (c.kinds) expect(plan.steps.map((s) => s.kind)).toEqual(c.kinds);
    });
  }

  it('refuses unquoted modes and needs content or src', () => {
    expect(() => copyTask.args.parse({ content: 'x', dest: '/a', mode: 644 })).toThrow(/quoted octal/);
    expect(() => copyTask.args.parse({ dest: '/a' })).toThrow(/exactly one of content or src/);
  });

  it('fails with a hint when the directory is missing, and depends on an earlier task in check mode', async () => {
    const h = new FakeHost();
    const p = await planOn(copyTask, h, { content: 'x', dest: '/nope/a' });
    expect(p.failed).toMatch(/directory \/nope does not exist/);
    const c = await planOn(copyTask, h, { content: 'x', dest: '/nope/a' }, { check: true });
    expect(c.changed).toBe(true);
    expect(c.dependsOn).toMatch(/\/nope/);
  });

  it('a controller src that does not exist fails a run, and in check mode depends on the task that creates it', async () => {
    const h = new FakeHost().dir('/etc/ssl');
    const src = '/nonexistent/fleetplay-copy-test/common.key';
    const p = await planOn(copyTask, h, { src, dest: '/etc/ssl/common.key' });
    expect(p.failed).toMatch(/does not exist on the controller/);
    const c = await planOn(copyTask, h, { src, dest: '/etc/ssl/common.key' }, { check: true });
    expect(c.failed).toBeUndefined();
    expect(c.changed).toBe(true);
    expect(c.steps).toEqual([]);
    expect(c.dependsOn).toContain(src);
  });

  it('treats a private key as secret: no diff, secret write, default mode 0600', async () => {
    const h = new FakeHost().dir('/etc/ssl');
    const secrets: string[] = [];
    const plan = await planOn(copyTask, h, { content: KEY, dest: '/etc/ssl/k.key' }, { secrets });
    expect(plan.diff).toEqual([{ path: '/etc/ssl/k.key', before: '', after: '', secret: true }]);
    const w = plan.steps.find((s) => s.kind === 'write');
    expect(w).toMatchObject({ kind: 'write', secret: true, mode: 0o600 });
    expect(secrets).toContain(KEY);
    expect(JSON.stringify(plan.undo)).not.toContain('PRIVATE KEY');
  });

  it('shows a text diff for normal files', async () => {
    const h = new FakeHost().file('/etc/a', 'old\n');
    const plan = await planOn(copyTask, h, { content: 'new\n', dest: '/etc/a' });
    expect(plan.diff).toEqual([{ path: '/etc/a', before: 'old\n', after: 'new\n' }]);
  });
});

describe('copy apply + rollback', () => {
  it('replaces a file, keeps its owner and mode, then rollback restores it byte for byte', async () => {
    const h = new FakeHost().file('/etc/pg/server.crt', 'OLD CERT\n', { mode: 0o640, uid: 26, gid: 26 });
    const before = state(h);
    const plan = await planAndApply(copyTask, h, { content: 'NEW CERT\n', dest: '/etc/pg/server.crt' });
    expect(h.content('/etc/pg/server.crt')).toBe('NEW CERT\n');
    expect(h.fs.get('/etc/pg/server.crt')).toMatchObject({ mode: 0o640, uid: 26, gid: 26 });
    const again = await planOn(copyTask, h, { content: 'NEW CERT\n', dest: '/etc/pg/server.crt' });
    expect(again.changed).toBe(false);
    await rollbackOn(copyTask, h, plan);
    expect(state(h)).toEqual(before);
  });

  it('rollback of a created file removes it; rollback of an attrs change restores the mode', async () => {
    const h = new FakeHost().dir('/etc/app').file('/etc/app/b', 'b', { mode: 0o644 });
    const before = state(h);
    const p1 = await planAndApply(copyTask, h, { content: 'a', dest: '/etc/app/a', mode: '0600' });
    expect(h.fs.get('/etc/app/a')?.mode).toBe(0o600);
    const p2 = await planAndApply(copyTask, h, { content: 'b', dest: '/etc/app/b', mode: '0600', owner: 'enterprisedb' });
    expect(h.fs.get('/etc/app/b')).toMatchObject({ mode: 0o600, uid: 1000 });
    await rollbackOn(copyTask, h, p2);
    await rollbackOn(copyTask, h, p1);
    expect(state(h)).toEqual(before);
  });

  it('backup: yes keeps a copy next to the file and rollback removes it', async () => {
    const h = new FakeHost().file('/etc/a', 'old');
    const before = state(h);
    const plan = await planAndApply(copyTask, h, { content: 'new', dest: '/etc/a', backup: true });
    expect(plan.result).toEqual({ backup_file: '/etc/a.run1~' });
    expect(h.content('/etc/a.run1~')).toBe('old');
    await rollbackOn(copyTask, h, plan);
    expect(state(h)).toEqual(before);
  });

  it('replaces a symlink at dest with a file, and rollback puts the link back', async () => {
    const h = new FakeHost().file('/etc/real', 'r').link('/etc/a', '/etc/real');
    const before = state(h);
    const plan = await planAndApply(copyTask, h, { content: 'x', dest: '/etc/a' });
    expect(h.fs.get('/etc/a')?.type).toBe('file');
    expect(h.content('/etc/real')).toBe('r');
    await rollbackOn(copyTask, h, plan);
    expect(state(h)).toEqual(before);
  });
});
