import { describe, expect, it } from 'vitest';
import { fileTask } from '../../../src/tasks/file.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planAndApply, planOn, rollbackOn } from '../../support/fake-steps.js';

describe('file plan', () => {
  const cases: Array<{ name: string; setup: (h: FakeHost) => void; args: Record<string, unknown>; changed?: boolean; reason?: RegExp; failed?: RegExp; kinds?: string[] }> = [
    { name: 'directory exists with right attrs', setup: (h) => h.dir('/srv/d', { mode: 0o750 }), args: { path: '/srv/d', state: 'directory', mode: '0750' }, changed: false, reason: /\/srv\/d is a directory with mode 0750, owner root:root/ },
    { name: 'directory missing with parents', setup: () => {}, args: { path: '/srv/a/b', state: 'directory' }, changed: true, kinds: ['mkdir', 'mkdir', 'mkdir'] },
    { name: 'directory path is a file', setup: (h) => h.file('/srv/d', 'x'), args: { path: '/srv/d', state: 'directory' }, failed: /is a file, not a directory/ },
    { name: 'state file missing fails', setup: () => {}, args: { path: '/nope', state: 'file' }, failed: /does not exist/ },
    { name: 'state file mode change', setup: (h) => h.file('/k', 'x', { mode: 0o644 }), args: { path: '/k', mode: '0600' }, changed: true, kinds: ['attrs'] },
    { name: 'absent already', setup: () => {}, args: { path: '/nope', state: 'absent' }, changed: false, reason: /already absent/ },
    { name: 'absent non-empty directory refused', setup: (h) => h.file('/d/x', 'x'), args: { path: '/d', state: 'absent' }, failed: /not empty; set force: true/ },
    { name: 'absent file backs it up first', setup: (h) => h.file('/f', 'x'), args: { path: '/f', state: 'absent' }, changed: true, kinds: ['backup', 'remove'] },
    { name: 'link already right', setup: (h) => h.link('/l', '/target'), args: { path: '/l', state: 'link', src: '/target' }, changed: false, reason: /already links to \/target/ },
    { name: 'link over a file needs force', setup: (h) => h.file('/l', 'x'), args: { path: '/l', state: 'link', src: '/t' }, failed: /set force: true/ },
    { name: 'dest and name are aliases of path', setup: (h) => h.dir('/x'), args: { dest: '/x', state: 'directory' }, changed: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const h = new FakeHost();
      c.setup(h);
      const plan = await planOn(fileTask, h, c.args);
      if (c.failed) {
        expect(plan.failed).toMatch(c.failed);
        return;
      }
      expect(plan.failed).toBeUndefined();
      expect(plan.changed).toBe(c.changed);
      if (c.reason) expect(plan.reason).toMatch(c.reason);
      if (c.kinds) expect(plan.steps.map((s) => s.kind)).toEqual(c.kinds);
    });
  }

  it('link needs src; recurse only with directory', () => {
    expect(() => fileTask.args.parse({ path: '/l', state: 'link' })).toThrow(/needs src/);
    expect(() => fileTask.args.parse({ path: '/l', state: 'file', recurse: true })).toThrow(/recurse/);
  });
});

describe('file apply + rollback', () => {
  const scenarios: Array<{ name: string; setup: (h: FakeHost) => void; args: Record<string, unknown>; check: (h: FakeHost) => void }> = [
    {
      name: 'create nested directories',
      setup: (h) => h.dir('/srv'),
      args: { path: '/srv/pem/certs', state: 'directory', mode: '0700', owner: 'enterprisedb' },
      check: (h) => expect(h.fs.get('/srv/pem/certs')).toMatchObject({ type: 'directory', mode: 0o700, uid: 1000 }),
    },
    {
      name: 'remove a file',
      setup: (h) => h.file('/etc/pem/root.crl', 'CRL', { mode: 0o600, uid: 26 }),
      args: { path: '/etc/pem/root.crl', state: 'absent' },
      check: (h) => expect(h.fs.has('/etc/pem/root.crl')).toBe(false),
    },
    {
      name: 'remove a non-empty directory with force',
      setup: (h) => h.file('/d/a', 'A', { mode: 0o600 }).file('/d/sub/b', 'B'),
      args: { path: '/d', state: 'absent', force: true },
      check: (h) => expect(h.fs.has('/d')).toBe(false),
    },
    {
      name: 'remove an empty directory',
      setup: (h) => h.dir('/e', { mode: 0o710, uid: 26, gid: 26 }),
      args: { path: '/e', state: 'absent' },
      check: (h) => expect(h.fs.has('/e')).toBe(false),
    },
    {
      name: 'recursive mode and owner',
      setup: (h) => h.file('/r/a', 'A', { mode: 0o644 }).file('/r/s/b', 'B', { mode: 0o600, uid: 26 }),
      args: { path: '/r', state: 'directory', mode: '0750', owner: 'enterprisedb', recurse: true },
      check: (h) => {
        for (const p of ['/r', '/r/a', '/r/s', '/r/s/b']) expect(h.fs.get(p)).toMatchObject({ mode: 0o750, uid: 1000 });
      },
    },
    {
      name: 'touch a missing file',
      setup: (h) => h.dir('/t'),
      args: { path: '/t/f', state: 'touch', mode: '0640' },
      check: (h) => expect(h.fs.get('/t/f')).toMatchObject({ type: 'file', mode: 0o640 }),
    },
    {
      name: 'touch an existing file (mtime comes back)',
      setup: (h) => h.file('/t/f', 'x', { mtimeMs: 1_600_000_000_000 }),
      args: { path: '/t/f', state: 'touch' },
      check: (h) => expect(h.fs.get('/t/f')?.mtimeMs).not.toBe(1_600_000_000_000),
    },
    {
      name: 'relink a symlink',
      setup: (h) => h.link('/cur', '/v1'),
      args: { path: '/cur', state: 'link', src: '/v2' },
      check: (h) => expect(h.fs.get('/cur')).toMatchObject({ type: 'symlink', target: '/v2' }),
    },
    {
      name: 'replace a file by a link with force',
      setup: (h) => h.file('/cur', 'data', { mode: 0o600 }),
      args: { path: '/cur', state: 'link', src: '/v2', force: true },
      check: (h) => expect(h.fs.get('/cur')).toMatchObject({ type: 'symlink', target: '/v2' }),
    },
  ];
  for (const s of scenarios) {
    it(s.name, async () => {
      const h = new FakeHost();
      s.setup(h);
      const before = h.snapshot();
      const mtimes = new Map([...h.fs.entries()].map(([p, n]) => [p, n.mtimeMs]));
      const plan = await planAndApply(fileTask, h, s.args);
      expect(plan.changed).toBe(true);
      s.check(h);
      const again = await planOn(fileTask, h, s.args);
      if (s.args.state !== 'touch') expect(again.changed, again.reason).toBe(false);
      await rollbackOn(fileTask, h, plan);
      expect(h.snapshot()).toEqual(before);
      if (s.args.state === 'touch') expect(h.fs.get('/t/f')?.mtimeMs ?? null).toBe(mtimes.get('/t/f') ?? null);
    });
  }
});
